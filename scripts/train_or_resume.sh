# Sourced by the training scripts (train_default.sh, train_plates.sh); needs $BIN.
# train_or_resume RUN ARGS...: `polychromify train --out RUN ARGS` in fp32 as a fresh run, or --resume of an
# unfinished RUN, or nothing if RUN is done.
train_or_resume() {
    local run=$1
    shift
    if [[ -f "$run/config.json" ]] && grep -q '"status": "\(epochs\|max_minutes\|early_stopping\)"' "$run/config.json"; then
        return
    fi
    if [[ -f "$run/train_state.pt" ]]; then
        "$BIN/polychromify" train --resume "$run"
    else
        "$BIN/polychromify" train --out "$run" --overwrite --precision fp32 "$@"
    fi
}
