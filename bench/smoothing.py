"""How much the colour smoothing on the logits' grid buys and costs (docs/old-prints.md); prints JSON.

    python bench/smoothing.py --images HELDOUT [--model clean] [--sigmas 0,0.7,1,1.2] [--levels clean,medium]

For each sigma (in logit cells; `mnv2-unet`'s `smooth`, 0 = none) and each level, `evaluate`'s metrics of
the model over the colour photos in HELDOUT (precision auto: bf16 where the CPU has it natively), one JSON
line each, after a first line that describes the machine. A blend's members are all set.
"""

from __future__ import annotations

import argparse
import json

from polychromify.checkpoint import resolve_model
from polychromify.evaluate import evaluate_images
from polychromify.precision import machine

KEYS = ("auc_rebalanced", "psnr_rgb", "delta_cf", "hue_accuracy", "hue_green", "hue_blue", "damage_speckle")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", required=True)
    ap.add_argument("--model", default="clean")
    ap.add_argument("--sigmas", default="0,0.7,1,1.2")
    ap.add_argument("--levels", default="clean,medium")
    a = ap.parse_args()
    print(json.dumps({"machine": machine()}), flush=True)
    model = resolve_model(a.model)
    nets = [m for m in model.modules() if hasattr(m, "smooth")]
    for sigma in map(float, a.sigmas.split(",")):
        for net in nets:
            net.smooth = sigma
        for level in a.levels.split(","):
            r = evaluate_images(model, a.images, degrade=None if level == "clean" else level)
            row = {"model": a.model, "sigma": sigma, "level": level}
            print(json.dumps(row | {k: round(r[k], 4) for k in KEYS if k in r}), flush=True)


if __name__ == "__main__":
    main()
