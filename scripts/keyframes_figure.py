"""The README's keyframes picture: real films, a frame as shot | coloured automatically | coloured from one
keyframe per shot (made with `colorize --hint`), from the strips `bench/video.py --sections films
--pictures DIR` writes.

    python scripts/keyframes_figure.py DIR docs/films/keyframes.jpg
"""

import sys
from pathlib import Path

import numpy as np
from figures import save_grid
from PIL import Image

FILMS = ("market_street_1906", "a_bomb_blast_effects", "within_our_gates_1920")


def main(folder: Path, out: str) -> None:
    rows = []
    for film in FILMS:
        strip = np.asarray(Image.open(next(folder.glob(f"{film}-frame-*.jpg"))))
        grey, auto, keyed = np.array_split(strip, 3, axis=1)
        rows.append([(f"{film}: the film", grey), ("automatic", auto), ("from one keyframe", keyed)])
    save_grid(rows, out, pil_kwargs={"quality": 85})


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2])
