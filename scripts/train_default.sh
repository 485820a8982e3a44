#!/usr/bin/env bash
# Rebuild the shipped default models and their model card numbers (about 90 minutes on a 2-core CPU).
# Copy runs/default and runs/default-hints into src/polychromify/assets/ (float16) to ship them.
#   bash scripts/train_default.sh [PHOTOS]        PHOTOS defaults to ../shared/data/photos
# The four photos in samples/ are left out of training; 15% of the rest (by content hash) is validation.
set -euo pipefail
PHOTOS=${1:-../shared/data/photos}
BIN=${BIN:-.venv/bin}
EXCLUDE=()
for f in samples/color/*.jpg; do EXCLUDE+=(--exclude "$(basename "$f")"); done

"$BIN/polychromify" prepare "$PHOTOS" --out data/default --crops-per-image 31 --split 0.85,0.15,0 "${EXCLUDE[@]}"
"$BIN/polychromify" train --model unet --model-arg context=true --model-arg temperature=0.7 \
    --rebalance-lambda 0.9 --hint-p 0.5 --data data/default --out runs/default \
    --epochs 60 --batch-size 32 --lr 1e-3 --max-minutes 28 --patience 6 --seed 0
"$BIN/polychromify" train --model unet --model-arg context=true --model-arg temperature=0.7 \
    --rebalance-lambda 0.75 --data data/default --out runs/default-hints \
    --epochs 60 --batch-size 32 --lr 1e-3 --max-minutes 30 --patience 6 --seed 0
"$BIN/polychromify" train --model v2 --data data/default --out runs/v2-same-data \
    --epochs 60 --batch-size 32 --lr 1e-3 --max-minutes 30 --patience 6 --seed 0

# Held-out photos: the validation photos of data/default plus the four samples.
rm -rf data/heldout && mkdir -p data/heldout
"$BIN/python" - "$PHOTOS" <<'PY'
import json, os, sys
photos = sys.argv[1]
m = json.load(open("data/default/manifest.json"))
for name in sorted({s["source"] for s in m["samples"]["val"]}):
    os.symlink(os.path.abspath(os.path.join(photos, name)), os.path.join("data/heldout", os.path.basename(name)))
PY
cp samples/color/*.jpg data/heldout/
"$BIN/polychromify" evaluate runs/default runs/v2-same-data --images data/heldout --json | tee runs/heldout-metrics.jsonl
"$BIN/polychromify" evaluate runs/default runs/v2-same-data --images samples/color --json | tee runs/samples-metrics.jsonl
