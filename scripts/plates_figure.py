"""The README's first picture: real old photographs (Prokudin-Gorskii's plates, 1905-1915): the green exposure
as the colorizer gets it, each model's colours, and the colours of 1910 (the three exposures aligned).

    python scripts/plates_figure.py OUT.jpg MODEL[=LABEL],... PLATES NAME...
    python scripts/plates_figure.py docs/plates/grid.jpg "default=Polychromify" ../shared/data/plates \
        img1582 img386 img410 img1038
"""

import sys
from pathlib import Path

import matplotlib
import numpy as np
from PIL import Image

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from polychromify.color import to_grey  # noqa: E402
from polychromify.inference import Colorizer, to_rgb_array  # noqa: E402

out, models, plates, *names = sys.argv[1:]
colorizers = [
    (label or name, Colorizer(name)) for name, _, label in (m.partition("=") for m in models.split(","))
]
rows = []
for name in names:
    grey = to_grey(to_rgb_array(Path(plates, "grey", f"{name}.jpg")))
    row = [("the green exposure (input)", np.stack([grey] * 3, -1))]
    row += [(label, c.colorize_array(grey)) for label, c in colorizers]
    rows.append([*row, ("the colours of 1910", to_rgb_array(Path(plates, "colour", f"{name}.jpg")))])
width = len(rows[0])
aspect = max(r[-1][1].shape[0] / r[-1][1].shape[1] for r in rows)
fig, axes = plt.subplots(len(rows), width, figsize=(3.2 * width, len(rows) * (3.2 * aspect + 0.3)))
for row_axes, row in zip(np.atleast_2d(axes), rows, strict=True):
    for ax, (title, picture) in zip(row_axes, row, strict=True):
        ax.axis("off")
        ax.imshow(picture)
        ax.set_title(title, fontsize=10)
fig.tight_layout()
fig.savefig(out, dpi=90, pil_kwargs={"quality": 85})
Image.open(out).load()
print(out)
