#!/usr/bin/env bash
# How the default's recipe scales with photos: scripts/train_default.sh, unchanged, on a seeded random half
# and quarter of the corpus's training photos (the validation photos unchanged), both runs at once on one
# core each (about 55 minutes on the 2-core CPU), each scored on the same held-out photos.
#   [SEED=0] bash experiments/learning_curve.sh [CORPUS] [WORK]
# SEED draws the photos kept (another SEED, another WORK: how much the draw alone moves the scores).
# WORK/w50 and WORK/w25 are train_default.sh's work folders; their heldout-metrics.jsonl hold the scores.
set -euo pipefail
BIN=${BIN:-$PWD/.venv/bin}
CORPUS=$(realpath "${1:-../shared/data/corpus}")
WORK=${2:-/tmp/polychromify-curve}
mkdir -p "$WORK"
# Which photos are training photos: the split is by each photo's content, so no crops are needed to know it.
[[ -f "$WORK/split/manifest.json" ]] ||
    "$BIN/polychromify" prepare "$CORPUS" --out "$WORK/split" --crops-per-image 0 --split 0.9,0.1,0
"$BIN/python" - "$WORK" "${SEED:-0}" <<'PY'
import json, os, random, sys
work, seed = sys.argv[1], int(sys.argv[2])
manifest = json.load(open(f"{work}/split/manifest.json"))
names = {split: sorted({s["source"] for s in manifest["samples"][split]}) for split in ("train", "val")}
random.Random(seed).shuffle(names["train"])
for share in (50, 25):
    folder = f"{work}/c{share}"
    if os.path.isdir(folder):
        continue
    for name in names["train"][: round(len(names["train"]) * share / 100)] + names["val"]:
        os.makedirs(os.path.dirname(f"{folder}/{name}"), exist_ok=True)
        os.symlink(os.path.join(manifest["source"], name), f"{folder}/{name}")
PY
core=0
for share in 50 25; do
    OMP_NUM_THREADS=1 taskset -c $core bash scripts/train_default.sh "$WORK/c$share" "$WORK/w$share" \
        > "$WORK/w$share.log" 2>&1 &
    core=$((1 - core))
done
wait
tail -n 2 "$WORK"/w*/heldout-metrics.jsonl
