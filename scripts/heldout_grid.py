"""Side-by-side pictures of colorizers on real photos they never saw: one row per photo, columns Input (grey),
each model, Original. Each photo is greyed, colorized at 320 px on the long side and shown as it comes out.

    python scripts/heldout_grid.py --images FOLDER --models default runs/a runs/b --out docs/default/grid.jpg
        [--names "new default" a b] [--limit 8]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from polychromify.color import to_grey  # noqa: E402
from polychromify.data.images import open_image  # noqa: E402
from polychromify.evaluate import list_images  # noqa: E402
from polychromify.inference import Colorizer  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=Path, required=True)
    ap.add_argument("--models", nargs="+", required=True)
    ap.add_argument("--names", nargs="+", help="column titles (default: the model names)")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--limit", type=int, default=8)
    ap.add_argument("--side", type=int, default=320)
    a = ap.parse_args()
    names = a.names or a.models
    colorizers = [Colorizer(m) for m in a.models]
    files = list_images(a.images)[: a.limit]
    cols = ["Input", *names, "Original"]
    fig, axes = plt.subplots(
        len(files), len(cols), figsize=(2.4 * len(cols), 1.7 * len(files)), squeeze=False
    )
    for r, path in enumerate(files):
        im = open_image(path)
        im.thumbnail((a.side, a.side))
        true = np.asarray(im)
        grey = np.repeat(to_grey(true)[..., None], 3, 2)
        for c, picture in enumerate([grey, *(z.colorize_array(true) for z in colorizers), true]):
            ax = axes[r, c]
            ax.imshow(picture)
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(cols[c], fontsize=9)
    fig.tight_layout(pad=0.3)
    a.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(a.out, dpi=110, pil_kwargs={"quality": 85})
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
