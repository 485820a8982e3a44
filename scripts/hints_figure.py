"""The README's hint picture: one photo greyed, colorized with 0 and with 5 hints (drawn from its truth as
`evaluate --hints` draws them, markers on the picture), the network alone with the same 5, and the truth.

    python scripts/hints_figure.py samples/color/tuxpaint-data--sheep.jpg docs/hints-example.jpg
"""

import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from polychromify.color import to_grey  # noqa: E402
from polychromify.evaluate import truth_hints  # noqa: E402
from polychromify.inference import Colorizer, to_rgb_array  # noqa: E402

photo, out = sys.argv[1], sys.argv[2]
truth = to_rgb_array(photo)
hints = truth_hints(truth, 5, np.random.default_rng(0))
spreading, alone = Colorizer("default"), Colorizer("default", spread=False)
panels = [
    ("grey input", np.repeat(to_grey(truth)[..., None], 3, axis=2)),
    ("no hints", spreading.colorize_array(truth)),
    ("5 hints", spreading.colorize_array(truth, hints)),
    ("5 hints, the network alone", alone.colorize_array(truth, hints)),
    ("truth", truth),
]
height = 3.2 * truth.shape[0] / truth.shape[1] + 0.4
fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), height))
for ax, (title, img) in zip(axes, panels, strict=True):
    ax.imshow(img)
    ax.set_title(title, fontsize=10)
    ax.axis("off")
    if "hints" in title and title != "no hints":
        xs, ys, colours = zip(*((h.x, h.y, h.color) for h in hints), strict=True)
        ax.scatter(xs, ys, c=colours, s=40, edgecolors="white")
fig.tight_layout()
fig.savefig(out, dpi=110)
print(out)
