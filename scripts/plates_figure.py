"""The README's first picture: real old photographs (Prokudin-Gorskii's plates, 1905-1915): the green exposure
as the colorizer gets it, each model's colours, and the colours of 1910 (the three exposures aligned).

    python scripts/plates_figure.py OUT.jpg MODEL[=LABEL],... PLATES NAME...
    python scripts/plates_figure.py docs/plates/grid.jpg "default=Polychromify" ../shared/data/plates \
        img1582 img386 img410 img1038
"""

import sys
from pathlib import Path

import numpy as np
from figures import save_grid

from polychromify.color import to_grey
from polychromify.inference import Colorizer, to_rgb_array

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
save_grid(rows, out, dpi=90, pad=0.3, pil_kwargs={"quality": 85})
print(out)
