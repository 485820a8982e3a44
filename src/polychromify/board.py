"""`train --tensorboard`: a run's curves, validation metrics and pictures as TensorBoard event files in
RUN/tensorboard (`tensorboard --logdir runs/`). metrics.jsonl stays the record of truth; only rank 0 writes.

Each epoch: train and validation loss, the learning rate, training images/s, rebalanced AuC, ΔCF and hue
accuracy on the first `samples` validation samples (the training split's if there is no validation split),
and one picture of the first four: input, output and truth side by side.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from polychromify.color import L_CENTER, L_RANGE, lab_to_rgb
from polychromify.errors import PolychromifyError
from polychromify.evaluate import score_arrays
from polychromify.models.registry import ColorModel
from polychromify.precision import autocast

BOARD_DIR = "tensorboard"
SCALARS = ("auc_rebalanced", "delta_cf", "hue_accuracy")


class Board:
    def __init__(self, run: Path, samples: int = 16) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise PolychromifyError(
                "--tensorboard needs the tensorboard package: pip install 'polychromify[tensorboard]'"
            ) from None
        self.writer = SummaryWriter(str(run / BOARD_DIR))
        self.samples = samples

    def epoch(self, epoch: int, record: dict, lr: float, model: ColorModel, data, precision: str) -> None:
        """Write epoch `epoch`'s scalars (`record`: the metrics.jsonl line) and validation picture."""
        w = self.writer
        w.add_scalar("loss/train", record["train_loss"], epoch)
        w.add_scalar("loss/val", record["val_loss"], epoch)
        w.add_scalar("lr", lr, epoch)
        w.add_scalar("images_per_s", record["images_per_s"], epoch)
        L, pred, true = _predict(model, data, self.samples, precision)
        scores = score_arrays(L, pred, true)
        for key in SCALARS:
            w.add_scalar(f"val/{key}", scores[key], epoch)
        rows = []
        for i in range(min(4, len(L))):
            p, t = pred[i].transpose(1, 2, 0), true[i].transpose(1, 2, 0)
            rows.append(
                np.concatenate([lab_to_rgb(L[i], 0 * p), lab_to_rgb(L[i], p), lab_to_rgb(L[i], t)], 1)
            )
        w.add_image("validation: input | output | truth", np.concatenate(rows, 0), epoch, dataformats="HWC")
        w.flush()

    def close(self) -> None:
        self.writer.close()


@torch.no_grad()
def _predict(model: ColorModel, data, n: int, precision: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(L (n,H,W) in [0,100], predicted ab, true ab (n,2,H,W)) of `data`'s first n samples."""
    device = next(model.parameters()).device
    L, ab = data.batch(np.arange(min(n, len(data))))
    training = model.training
    model.eval()
    try:
        with autocast(device.type, precision):
            pred = model.predict_ab(L.to(device)).float().cpu()  # no hints: the automatic colours
    finally:
        model.train(training)
    return L[:, 0].numpy() * L_RANGE + L_CENTER, pred.numpy(), ab.numpy()
