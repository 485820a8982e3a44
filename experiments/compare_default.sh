#!/usr/bin/env bash
# The model card's same-budget comparison: each candidate trained for the same wall-clock minutes on one
# core, on the data of scripts/train_default.sh, then scored on the same held-out photos, grey first.
#   bash experiments/compare_default.sh [WORK] [MINUTES]      (after scripts/train_default.sh; WORK as there)
# Two candidates train at a time (one core each), so the 6 candidates take about 3 x MINUTES; scored in one
# pass (--no-mirror), as the model card's table.
set -euo pipefail
BIN=${BIN:-$PWD/.venv/bin}
WORK=${1:-/tmp/polychromify-default}
MINUTES=${2:-12}
WEIGHTS=$(bash scripts/fetch_weights.sh mnv2 "$WORK")
OUT=$WORK/compare
mkdir -p "$OUT"
COMMON=(--data "$WORK/data" --rebalance-lambda 0.6 --batch-size 32 --lr 1e-3 --max-minutes "$MINUTES"
    --patience 0 --seed 0 --epochs 100 --overwrite)

candidate() {  # NAME ARGS...: one core, skipped when already trained
    local name=$1
    shift
    [[ -f "$OUT/$name/config.json" ]] && grep -q '"status": "max_minutes"' "$OUT/$name/config.json" && return
    OMP_NUM_THREADS=1 "$BIN/polychromify" train --out "$OUT/$name" "${COMMON[@]}" "$@" > "$OUT/$name.log" 2>&1
}

# (a) today's default architecture (U-Net with global context, 2.4 M parameters) from scratch, no hints
candidate a-unet-scratch --model unet --model-arg context=true --model-arg temperature=0.7 --hint-p 1 &
# (b) the new default: ImageNet MobileNetV2 encoder, first four layers frozen, the rest at 0.3x the rate
candidate b-mnv2-imagenet --model mnv2-unet --model-arg encoder_weights="$WEIGHTS" &
wait
# (c) the same network from scratch (nothing frozen: random early layers would stay random)
candidate c-mnv2-scratch --model mnv2-unet --model-arg freeze=0 &
# (d) the ImageNet encoder with nothing frozen (is freezing its early layers a loss?)
candidate d-mnv2-imagenet-nofreeze --model mnv2-unet --model-arg encoder_weights="$WEIGHTS" --model-arg freeze=0 &
wait
# (e, f) other ImageNet encoders in the same place, the rest alike: EfficientNet-Lite0 and -Lite2 (Apache-2.0,
#     converted from TensorFlow)
LITE0=$(bash scripts/fetch_weights.sh lite0 "$WORK")
LITE2=$(bash scripts/fetch_weights.sh lite2 "$WORK")
candidate e-lite0-imagenet --model mnv2-unet --model-arg encoder=lite0 --model-arg encoder_weights="$LITE0" &
candidate f-lite2-imagenet --model mnv2-unet --model-arg encoder=lite2 --model-arg encoder_weights="$LITE2" &
wait

# the run folders only (each NAME.log beside its folder would match a glob such as a-*)
"$BIN/polychromify" evaluate "$OUT"/{a-unet-scratch,b-mnv2-imagenet,c-mnv2-scratch,d-mnv2-imagenet-nofreeze} \
    "$OUT"/{e-lite0-imagenet,f-lite2-imagenet} \
    --images "$WORK/heldout" --no-mirror --json | tee "$OUT/heldout-metrics.jsonl"
