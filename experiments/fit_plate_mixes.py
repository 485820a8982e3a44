"""Which film's tonal response do the plates' grey photos have? Per plate, the channel mix (weights >= 0 of
the colour photo's red, green and blue linear light, summing to 1) that best explains its grey's linear
light (least squares, scipy's nnls), then the spread over the plates, and how far each grey's CIELAB L is
from the luminance's (what the networks were trained on) and from a blue-sensitive plate's (0, .5, .5).
    python experiments/fit_plate_mixes.py PLATES [--json OUT]     (PLATES holds grey/ and colour/)
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from PIL import Image
from scipy.optimize import nnls

from polychromify.color import LUMINANCE, grey_lightness, srgb_to_linear, to_grey


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("plates", type=Path)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    lightness = grey_lightness()
    fits, gaps = [], {"luminance": [], "blue_sensitive": []}
    for path in sorted((args.plates / "colour").glob("*.jpg")):
        colour = np.asarray(Image.open(path).convert("RGB"))
        grey = np.asarray(Image.open(args.plates / "grey" / path.name).convert("L"))
        if grey.shape != colour.shape[:2]:
            continue
        rows = np.random.default_rng(0).choice(grey.size, min(grey.size, 20000), replace=False)
        w, _ = nnls(
            srgb_to_linear(colour.reshape(-1, 3)[rows] / 255.0), srgb_to_linear(grey.ravel()[rows] / 255.0)
        )
        fits.append(w / max(w.sum(), 1e-9))
        for name, mix in (("luminance", LUMINANCE), ("blue_sensitive", (0.0, 0.5, 0.5))):
            gaps[name].append(float(np.abs(lightness[grey] - lightness[to_grey(colour, mix)]).mean()))
    fits = np.array(fits)
    report = {
        "plates": len(fits),
        "mix_median": np.median(fits, 0).round(3).tolist(),
        "mix_p10": np.percentile(fits, 10, 0).round(3).tolist(),
        "mix_p90": np.percentile(fits, 90, 0).round(3).tolist(),
        "mean_abs_dL_to_luminance": round(float(np.mean(gaps["luminance"])), 2),
        "mean_abs_dL_to_blue_sensitive": round(float(np.mean(gaps["blue_sensitive"])), 2),
    }
    print(json.dumps(report))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()
