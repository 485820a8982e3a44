"""The grid the README's comparison pictures share: one row per photo, one titled panel per picture."""

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def save_grid(
    rows: list[list[tuple[str, np.ndarray]]], out: str, dpi: int = 100, pad: float = 0.35, **save
) -> None:
    """rows: [(title, (H,W,3) picture), ...] per row, all of one length; each row as tall as its last
    picture's aspect needs (the tallest of them). save: more of `savefig`'s keywords."""
    width = len(rows[0])
    aspect = max(r[-1][1].shape[0] / r[-1][1].shape[1] for r in rows)
    fig, axes = plt.subplots(len(rows), width, figsize=(3.2 * width, len(rows) * (3.2 * aspect + pad)))
    for row_axes, row in zip(np.atleast_2d(axes), rows, strict=True):
        for ax, (title, picture) in zip(row_axes, row, strict=True):
            ax.axis("off")
            ax.imshow(picture)
            ax.set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(out, dpi=dpi, **save)
    plt.close(fig)
