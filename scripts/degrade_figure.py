"""The README's old-print picture: each photo greyed and damaged like an old print (`evaluate --degrade`'s
damage for that file name), then colorized by each model given, beside the truth.

    python scripts/degrade_figure.py OUT.jpg LEVEL MODEL[=LABEL],... PHOTO...
    python scripts/degrade_figure.py docs/degrade-example.jpg medium "PREV=previous default,default=default" \
        samples/color/enlightenment-data--Snow-Trees.jpg samples/color/tuxpaint-data--sheep.jpg
"""

import sys
from pathlib import Path

import numpy as np
from figures import save_grid
from PIL import Image

from polychromify.color import to_grey
from polychromify.data.degrade import LEVELS, degrade, photo_rng
from polychromify.inference import Colorizer, to_rgb_array

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
save_grid(rows, out)
print(out)
