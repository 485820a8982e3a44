#!/usr/bin/env bash
# The distilled old-prints candidate (docs/old-prints.md, "A teacher, a grey prior, a gate"; measured, not
# shipped): the shipped `clean`, fine-tuned one epoch on its own training samples, half of them with an old
# print's damage on the input (`--degrade 0.5`), learning only `clean`'s own colours of the *clean* input
# (`--teacher`, `--distill 1`): a damaged print is pulled towards the colours its clean photo gets. 23 minutes
# on the 2-core EPYC with native bf16 (fp32, with another job beside it), resumable.
#   bash experiments/distill_old_prints.sh [CORPUS] [WORK]
#   (WORK as scripts/train_default.sh's: its data is reused)
#   then: polychromify evaluate clean WORK/runs/distilled --images WORK/heldout --degrade medium
# FREEZE=0 also trains the encoder's first four layers (frozen by default: ImageNet's edge and texture
# filters, which see the grain first), into WORK/runs/distilled-freeze0.
set -euo pipefail
BIN=${BIN:-$PWD/.venv/bin}
DEFAULT=src/polychromify/assets/clean

CORPUS=${1:-../shared/data/corpus}
WORK=${2:-/tmp/polychromify-default}
RUN=$WORK/runs/distilled${FREEZE:+-freeze$FREEZE}
FREEZE_ARG=(); [[ -n "${FREEZE:-}" ]] && FREEZE_ARG=(--model-arg "freeze=$FREEZE")
mkdir -p "$WORK"

# the default's samples (the same split: its held-out photos stay held out); the four samples/ left out
EXCLUDE=()
for f in samples/color/*.jpg; do EXCLUDE+=(--exclude "*$(basename "$f")"); done
[[ -f "$WORK/data/manifest.json" ]] ||
    "$BIN/polychromify" prepare "$CORPUS" --out "$WORK/data" --crops-per-image 23 --split 0.9,0.1,0 "${EXCLUDE[@]}"

if [[ -f "$RUN/train_state.pt" ]]; then
    grep -q '"status": "epochs"' "$RUN/config.json" || "$BIN/polychromify" train --resume "$RUN"
else
    "$BIN/polychromify" train --data "$WORK/data" --out "$RUN" --overwrite --model mnv2-unet \
        --model-arg hints=true --init "$DEFAULT" --teacher "$DEFAULT" --distill 1 --degrade 0.5 \
        --hint-p 0.125 --rebalance-lambda 0.6 --epochs 1 --schedule cosine --keep last --batch-size 32 \
        --lr 1e-4 --patience 0 --seed 2 --precision fp32 "${FREEZE_ARG[@]}"
fi
