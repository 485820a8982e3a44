#!/usr/bin/env bash
# One network in place of the default's two (#44: video at >= 0.8x `clean`'s frame rate): the shipped
# `clean`, fine-tuned one epoch on its own training samples, 30% of them with an old print's damage on the
# input (as `old-prints` was trained), learning only the default's colours of the *clean* input (`--teacher
# default`: the mean of its two members' logits, `--distill 1`). Resumable.
#   bash experiments/distill_default.sh [CORPUS] [WORK]
#   (WORK as scripts/train_default.sh's: its data is reused)
#   then wrap it as the default is wrapped (its cleaner, `neutral`) and evaluate it beside the default:
#   python -c "from polychromify.checkpoint import resolve_model, save_blend; \
#     save_blend('WORK/student', ['WORK/runs/student'], [1.0], cleaner=resolve_model('default').cleaner, neutral=True)"
#   polychromify evaluate default WORK/student --images WORK/heldout [--degrade medium]
# DEGRADE=P: that share of damaged inputs instead of 0.3, into WORK/runs/student-degradeP.
set -euo pipefail
BIN=${BIN:-$PWD/.venv/bin}
CORPUS=${1:-../shared/data/corpus}
WORK=${2:-/tmp/polychromify-default}
RUN=$WORK/runs/student${DEGRADE:+-degrade$DEGRADE}
mkdir -p "$WORK"

EXCLUDE=()
for f in samples/color/*.jpg; do EXCLUDE+=(--exclude "*$(basename "$f")"); done
[[ -f "$WORK/data/manifest.json" ]] ||
    "$BIN/polychromify" prepare "$CORPUS" --out "$WORK/data" --crops-per-image 23 --split 0.9,0.1,0 "${EXCLUDE[@]}"

source scripts/train_or_resume.sh
train_or_resume "$RUN" --data "$WORK/data" --model mnv2-unet --model-arg hints=true \
    --init src/polychromify/assets/clean --teacher src/polychromify/assets/default --distill 1 \
    --degrade "${DEGRADE:-0.3}" --hint-p 0.125 --rebalance-lambda 0.6 --epochs 1 --schedule cosine --keep last \
    --batch-size 32 --lr 1e-4 --patience 0 --seed 3
