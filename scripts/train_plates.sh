#!/usr/bin/env bash
# `old-photos`: one network trained on the corpus and on real old photographs with their real colours (the
# plates' training split), and the check that the tonal mixes help old photos beyond the plates (#44).
# Resumable: run it again after an interruption (finished runs are skipped, an unfinished one resumes).
#   bash scripts/train_plates.sh [SHARED] [WORK]
# SHARED: the folder holding data/corpus and data/plates (default ../shared); WORK: where datasets and runs go
# (default /tmp/polychromify-plates, outside the repo). About 75 minutes on a 2-core CPU, fp32.
# Then ship it:  bash scripts/train_plates.sh ship WORK   (into src/polychromify/assets/old-photos: the network in
# float16 under network/, behind the default's confidence scaling)
set -euo pipefail
BIN=${BIN:-$PWD/.venv/bin}
SHARED=${1:-../shared}
WORK=${2:-/tmp/polychromify-plates}
ASSETS=src/polychromify/assets

if [[ "$SHARED" == ship ]]; then
    "$BIN/python" - "$WORK/runs/default" "$ASSETS/old-photos" <<'PY'
import sys
from pathlib import Path
from polychromify.checkpoint import save_blend, ship_half
run, dest = sys.argv[1], Path(sys.argv[2])
licence = (
    "weights derived from torchvision's ImageNet-1k MobileNetV2: non-commercial research and education only "
    "(ImageNet's terms); trained on the corpus's free-licensed photos and Prokudin-Gorskii's plates (Library "
    "of Congress, no known restrictions); polychromify's code is MIT; see MODEL_CARD.md"
)
ship_half(run, dest / "network", licence=licence)  # float16 weights
save_blend(dest, ["network"], [1.0], neutral=True, licence=licence)  # behind the confidence scaling
PY
    exit 0
fi
mkdir -p "$WORK"

# 1. The corpus as `train_default.sh` prepares it (the same split: its 95 validation photos are held out), and
#    the plates as pairs: the green exposure's L as input, the aligned colour's ab as target, split by blocks of
#    20 neighbouring names (neighbours are often the same place), 20% held out.
EXCLUDE=()
for f in samples/color/*.jpg; do EXCLUDE+=(--exclude "*$(basename "$f")"); done
[[ -f "$WORK/corpus/manifest.json" ]] ||
    "$BIN/polychromify" prepare "$SHARED/data/corpus" --out "$WORK/corpus" --crops-per-image 23 \
        --split 0.9,0.1,0 "${EXCLUDE[@]}"
[[ -f "$WORK/plates/manifest.json" ]] ||
    "$BIN/polychromify" prepare "$SHARED/data/plates/colour" --grey "$SHARED/data/plates/grey" \
        --out "$WORK/plates" --block 20 --split 0.8,0.2,0 --crops-per-image 15

source scripts/train_or_resume.sh
train() {  # train RUN ARGS...: a fresh run, or --resume of an unfinished one, or nothing if it is done
    train_or_resume "$WORK/runs/$1" --data "$WORK/corpus" --model mnv2-unet --model-arg hints=true \
        --rebalance-lambda 0.6 --hint-p 0.125 --epochs 1 --schedule cosine --keep last --batch-size 32 \
        --lr 3e-4 --patience 0 "${@:2}"
}

# 2. `old-photos`: `old-prints` fine-tuned for 1,000 steps on batches of 21 corpus samples (30% through a
#    drawn film's tonal response, 30% damaged) and 11 plates (damaged too), learning the blend's colours of
#    the corpus samples (--teacher, the previous default: two networks and a cleaner) and the plates' truth.
train default --init "$ASSETS/old-prints" --extra-data "$WORK/plates" --extra-share 0.35 --tonal 0.3 \
    --degrade 0.3 --teacher "$ASSETS/default" --distill 0.3 --steps-per-epoch 1000 --max-minutes 70 --seed 2

# 3. No plate at all, with and without the tonal mixes: `clean` fine-tuned 300 steps on the corpus alone;
#    scored on the plates, they say whether the mixes help old photos beyond this collection.
train tonal --init "$ASSETS/clean" --tonal 0.5 --steps-per-epoch 300 --max-minutes 20 --seed 3
train no-tonal --init "$ASSETS/clean" --steps-per-epoch 300 --max-minutes 20 --seed 3
