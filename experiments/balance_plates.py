"""The plates' colour truth with its cast taken out, for #44's second stage on a balanced truth
(docs/plates.md, "What did not reach its target"): in CIELAB, the median ab of each plate's near-neutral
pixels (chroma under 12, L 20-95) is moved to 0; a plate with under 2% such pixels is left as it is.
Prints the casts removed.

    python experiments/balance_plates.py ../shared/data/plates/colour BALANCED/colour
    polychromify prepare BALANCED/colour --grey ../shared/data/plates/grey --out DS --block 20 \
        --split 0.8,0.2,0 --crops-per-image 15
"""

from __future__ import annotations

import argparse
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path

import numpy as np
from PIL import Image
from skimage import color


def balance(src: Path, dst: Path) -> float:
    """Writes `src` without its cast into the folder `dst`; returns the cast (CIELAB ab units)."""
    lab = color.rgb2lab(np.asarray(Image.open(src).convert("RGB")) / 255.0)
    chroma = np.hypot(lab[..., 1], lab[..., 2])
    near = (chroma < 12) & (lab[..., 0] > 20) & (lab[..., 0] < 95)
    cast = np.median(lab[..., 1:][near], axis=0) if near.mean() >= 0.02 else np.zeros(2)
    lab[..., 1:] -= cast
    rgb = (np.clip(color.lab2rgb(lab), 0, 1) * 255).round().astype(np.uint8)
    Image.fromarray(rgb).save(dst / src.name, quality=95)
    return float(np.hypot(*cast))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("src", type=Path, help="the plates' colour/ folder")
    ap.add_argument("dst", type=Path, help="where the balanced plates go (same names)")
    a = ap.parse_args()
    a.dst.mkdir(parents=True, exist_ok=True)
    with ProcessPoolExecutor(2) as pool:
        plates = sorted(a.src.glob("*.jpg"))
        casts = np.array(list(pool.map(partial(balance, dst=a.dst), plates, chunksize=16)))
    print(
        f"{len(casts)} plates; cast removed (CIELAB ab units): median {np.median(casts):.2f}, "
        f"p90 {np.percentile(casts, 90):.2f}, max {casts.max():.2f}; none found on {(casts == 0).sum()}"
    )


if __name__ == "__main__":
    main()
