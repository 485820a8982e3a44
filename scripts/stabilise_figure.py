"""The README's stabilisation picture: top, the mean frame-to-frame ab change (CIELAB units) of each frame
of `bench/video.py`'s grainy two-shot film, for per-frame colorization, the old smoothing and the new
stabilisation; below, one frame of the moving-object clip (the truth, then the three), cropped behind the
object, where a trail of its colour would show.

    python scripts/stabilise_figure.py docs/stabilisation.jpg
"""

import sys
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).parents[1] / "bench"))
from polychromify.color import rgb_to_lab  # noqa: E402
from polychromify.inference import Colorizer  # noqa: E402
from polychromify.video import colorize_video  # noqa: E402
from video import METHODS, SAMPLES, decode, film_clip, object_clip  # noqa: E402

SHOWN = {
    "per_frame": "per-frame (--every 1 --smooth 0)",
    "old": "old smoothing (--no-motion --smooth 0.7)",
    "new": "new stabilisation (defaults)",
}
COLOURS = {"per_frame": "tab:red", "old": "tab:orange", "new": "tab:blue"}

out_path = Path(sys.argv[1])
photos = sorted(SAMPLES.iterdir())
colorizer = Colorizer("default", mirror=False)
with tempfile.TemporaryDirectory() as tmp:
    tmp = Path(tmp)
    _, cuts = film_clip(tmp / "film.mp4", photos[:2], 24)
    truth, masks = object_clip(tmp / "object.mp4", photos[2], photos[3], 48)
    change, crops = {}, {}
    for name in SHOWN:
        for clip in ("film", "object"):
            dst = tmp / f"{clip}-{name}.mp4"
            colorize_video(tmp / f"{clip}.mp4", dst, colorizer, progress=False, **METHODS[name])
        ab = [rgb_to_lab(f)[1] * 128 for f in decode(tmp / f"film-{name}.mp4")]
        change[name] = [np.nan if t in cuts else np.abs(ab[t] - ab[t - 1]).mean() for t in range(1, len(ab))]
        crops[name] = decode(tmp / f"object-{name}.mp4")

t = 40  # a frame well into the slide: the object has uncovered a wide band behind it
ys, xs = np.nonzero(masks[t])
top, bottom, right = ys.min() - 10, ys.max() + 10, xs.max() + 10
left = max(0, xs.min() - 160)
panels = [("truth", truth[t])] + [(SHOWN[n], crops[n][t]) for n in SHOWN]

fig = plt.figure(figsize=(10, 5.6), dpi=100)
ax = fig.add_axes((0.08, 0.56, 0.9, 0.40))
for name, label in SHOWN.items():
    ax.plot(range(1, len(change[name]) + 1), change[name], label=label, color=COLOURS[name], lw=1.4)
ax.axvline(cuts[0], color="grey", ls=":", lw=1)
ax.set_xlabel("frame (grainy two-shot film, 640x360; dotted: the cut)")
ax.set_ylabel("mean |ab change| to the\nframe before (CIELAB)")
ax.legend(frameon=False, fontsize=9)
for i, (label, img) in enumerate(panels):
    a = fig.add_axes((0.01 + i * 0.25, 0.02, 0.23, 0.36))
    a.imshow(img[top:bottom, left:right])
    a.set_title(label, fontsize=8)
    a.axis("off")
title = f"moving-object clip, frame {t}: the object slides right, 6 px a frame"
fig.text(0.5, 0.405, title, ha="center", fontsize=9)
fig.savefig(out_path, pil_kwargs={"quality": 85} if out_path.suffix == ".jpg" else {})
print(out_path, out_path.stat().st_size // 1024, "KB")
