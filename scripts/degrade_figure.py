"""The README's old-print picture: each photo greyed and damaged like an old print (`evaluate --degrade`'s
damage for that file name), then colorized by each model given, beside the truth.

    python scripts/degrade_figure.py OUT.jpg LEVEL MODEL[=LABEL],... PHOTO...
    python scripts/degrade_figure.py docs/degrade-example.jpg medium "PREV=previous default,default=default" \
        samples/color/enlightenment-data--Snow-Trees.jpg samples/color/tuxpaint-data--sheep.jpg
"""

import sys
from pathlib import Path

import matplotlib
from PIL import Image

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from polychromify.color import to_grey  # noqa: E402
from polychromify.data.degrade import LEVELS, degrade, photo_rng  # noqa: E402
from polychromify.inference import Colorizer, to_rgb_array  # noqa: E402

out, level, models, *photos = sys.argv[1:]
runs = [m.partition("=") for m in models.split(",")]
colorizers = [(label or name, Colorizer(name)) for name, _, label in runs]
rows = []
for photo in photos:
    im = Image.fromarray(to_rgb_array(photo))
    im.thumbnail((640, 640))  # as `evaluate` scores them
    truth = np.asarray(im)
    damaged = degrade(to_grey(truth), photo_rng(Path(photo).name), LEVELS[level])
    row = [(f"{level} old-print damage", np.stack([damaged] * 3, -1))]
    row += [(label, c.colorize_array(damaged)) for label, c in colorizers]
    rows.append([*row, ("truth", truth)])
width = len(rows[0])
aspect = max(r[-1][1].shape[0] / r[-1][1].shape[1] for r in rows)
fig, axes = plt.subplots(len(rows), width, figsize=(3.2 * width, len(rows) * (3.2 * aspect + 0.35)))
for row_axes, row in zip(np.atleast_2d(axes), rows, strict=True):
    for ax, (title, picture) in zip(row_axes, row, strict=True):
        ax.axis("off")
        ax.imshow(picture)
        ax.set_title(title, fontsize=10)
fig.tight_layout()
fig.savefig(out, dpi=100)
print(out)
