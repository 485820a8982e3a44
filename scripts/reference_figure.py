"""The README's reference picture: one photo greyed and colorized with no reference, then with the colours
of each reference photo given (at the default strength, and at strength 1).

    python scripts/reference_figure.py samples/color/tuxpaint-data--sheep.jpg docs/reference-example.jpg \
        samples/color/enlightenment-data--Snow-Trees.jpg ../shared/data/photos/mate-backgrounds--Dune.jpg
"""

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from polychromify.inference import Colorizer, Reference, to_rgb_array  # noqa: E402

photo, out, *references = sys.argv[1:]
truth = to_rgb_array(photo)
colorizer = Colorizer("default")
rows = [[("no reference", colorizer.colorize_array(truth)), ("truth", truth), None]]
for path in references:
    rows.append(
        [
            (f"reference: {Path(path).stem.split('--')[-1]}", to_rgb_array(path)),
            ("its colours (strength 0.75)", colorizer.colorize_array(truth, reference=Reference.of(path))),
            ("strength 1", colorizer.colorize_array(truth, reference=Reference.of(path, 1.0))),
        ]
    )
aspect = truth.shape[0] / truth.shape[1]
fig, axes = plt.subplots(len(rows), 3, figsize=(9.6, len(rows) * (3.2 * aspect + 0.35)))
for row_axes, row in zip(axes, rows, strict=True):
    for ax, panel in zip(row_axes, row, strict=True):
        ax.axis("off")
        if panel is not None:
            ax.imshow(panel[1])
            ax.set_title(panel[0], fontsize=10)
fig.tight_layout()
fig.savefig(out, dpi=110)
print(out)
