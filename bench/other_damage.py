"""Robustness to damage the models never trained on (docs/old-prints.md); prints JSON.

    python bench/other_damage.py --images HELDOUT [--models default,clean,old-prints]

`train --degrade` and `evaluate --degrade` share one chain (`polychromify.data.degrade`), so a model could
learn that chain rather than old prints. Here each held-out photo is damaged by a second, independent chain
instead, the synthetic one of Bringing Old Photos Back to Life as its paper and code describe it: Gaussian
blur (kernel 3, 5 or 7 px, sigma 1-5), Gaussian noise (sigma 5-50/255), resampling down to 1/2-1x and back
(bilinear) and JPEG (quality 40-100), each with p = 0.7, in a random order, at the photo's own resolution
(640 px here). The damage is seeded by the file name, the same for every model. One JSON line per model
with all of `evaluate`'s numbers on the damaged photos (scored against the clean originals), after a
first line that describes the machine.
"""

from __future__ import annotations

import argparse
import io
import json

import cv2
import numpy as np
from PIL import Image

from polychromify.checkpoint import resolve_model
from polychromify.evaluate import evaluate_images
from polychromify.precision import machine


def other_damage(grey: np.ndarray, rng: np.random.Generator, severity: float = 1.0) -> np.ndarray:
    """(H,W) uint8 -> the same damaged by the second chain (`severity` is not used: one level)."""
    x = grey.astype(np.float32) / 255
    h, w = x.shape
    for step in rng.permutation(["blur", "noise", "resample", "jpeg"]):
        if rng.random() >= 0.7:
            continue
        if step == "blur":
            k = int(rng.choice([3, 5, 7]))
            x = cv2.GaussianBlur(x, (k, k), rng.uniform(1, 5))
        elif step == "noise":
            x = x + rng.normal(0, rng.uniform(5, 50) / 255, x.shape).astype(np.float32)
        elif step == "resample":
            f = rng.uniform(0.5, 1.0)
            small = cv2.resize(
                x, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_LINEAR
            )
            x = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
        else:
            buf = io.BytesIO()
            Image.fromarray(np.clip(np.rint(x * 255), 0, 255).astype(np.uint8)).save(
                buf, "JPEG", quality=int(rng.integers(40, 101))
            )
            x = np.asarray(Image.open(buf).convert("L")).astype(np.float32) / 255
    return np.clip(np.rint(x * 255), 0, 255).astype(np.uint8)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", required=True)
    ap.add_argument("--models", default="default,clean,old-prints")
    a = ap.parse_args()
    print(json.dumps({"machine": machine()}), flush=True)
    for name in a.models.split(","):
        r = evaluate_images(resolve_model(name), a.images, degrade="medium", damage=other_damage)
        scores = {k: round(v, 4) for k, v in r.items() if isinstance(v, float)}
        print(json.dumps({"model": name, "damage": "other"} | scores), flush=True)


if __name__ == "__main__":
    main()
