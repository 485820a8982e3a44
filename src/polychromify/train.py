"""`polychromify train`: a prepared dataset -> a self-describing, resumable run folder.

RUN/model.safetensors   weights of the best epoch by validation loss (or of the last, keep="last")
RUN/config.json         architecture + arguments, training config, data summary, time, parameter count
RUN/metrics.jsonl       one line per epoch: losses, validation metrics, wall-clock time, training images/s
RUN/train_state.pt      last epoch's weights, optimiser and counters (tensors only, weights_only=True)
Runs one process or, under torchrun, DistributedDataParallel with rank 0 writing.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from tqdm import tqdm

from polychromify import checkpoint, metrics
from polychromify.board import Board
from polychromify.color import bin_prior, rebalance_weights, remix_lightness, tonal_mix
from polychromify.config import RESUMABLE, TrainConfig, TrainJob
from polychromify.data.dataset import LabDataset
from polychromify.data.degrade import degrade_batch
from polychromify.data.hints import sample_hints
from polychromify.errors import PolychromifyError
from polychromify.losses import compute_loss, distill_loss
from polychromify.models.registry import BUILD_ONLY_ARGS, ColorModel, create_model
from polychromify.precision import autocast, from_rank0, pick_device, resolve

STATE = "train_state.pt"
METRICS = "metrics.jsonl"


def make_optimizer(model: torch.nn.Module, lr: float, device: torch.device) -> torch.optim.Optimizer:
    """The seed's Adam; fused into one kernel per step where PyTorch has one (CPU, CUDA): on this CPU it
    halves the update's time, which is ~7% of a training step for the 32M-parameter ECCV16."""
    groups = model.param_groups(lr) if isinstance(model, ColorModel) else [{"params": model.parameters()}]
    return torch.optim.Adam(groups, lr=lr, fused=device.type in ("cpu", "cuda"))


def lr_factor(schedule: str, progress: float) -> float:
    """Learning-rate multiplier at `progress` in [0,1] of the planned epochs."""
    if schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * min(max(progress, 0.0), 1.0)))
    return 1.0


def train(cfg: TrainConfig, resume: bool = False, overwrite: bool = False, progress: bool = True) -> Path:
    """Train `cfg.model` on `cfg.data` into `cfg.out`; returns the run folder.

    The steps, in order: the device and (under torchrun) the process group; then `Trainer(...)`: the data,
    the model (--init, --teacher), the run folder, the optimiser and lr schedule, a resumed state; then
    `fit()`: each epoch's training steps, validation, logs and checkpoint; last, the final config."""
    if missing := [k for k in ("model", "data", "out") if getattr(cfg, k) is None]:
        raise PolychromifyError(f"TrainConfig needs {', '.join(missing)}")
    world, rank = int(os.environ.get("WORLD_SIZE", 1)), int(os.environ.get("RANK", 0))
    device = pick_device(cfg.device)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    try:
        run = Trainer(cfg, device, rank, world, resume, overwrite, progress).fit()
        if world > 1:  # every rank done (rank 0 writes last) before any tears the group down
            dist.barrier()
        return run
    finally:
        if world > 1 and dist.is_initialized():
            dist.destroy_process_group()


class Trainer:
    """One run: the set-up in __init__, the loop in fit, each a short list of named steps."""

    def __init__(
        self,
        cfg: TrainConfig,
        device: torch.device,
        rank: int,
        world: int,
        resume: bool,
        overwrite: bool,
        progress: bool,
    ) -> None:
        self.cfg, self.device, self.rank, self.world = cfg, device, rank, world
        self.run = Path(cfg.out)
        self.progress = progress and rank == 0
        self._data()
        self._model(resume)
        if rank == 0:  # only once the model, data and teacher are known to be good
            _claim_run_dir(self.run, resume, overwrite)
        self._optimiser()
        self.epoch, self.best_val, self.best_epoch, self.seconds, self.bad_epochs = 0, math.inf, -1, 0.0, 0
        if resume:
            self._load_state()
        self.board = Board(self.run) if cfg.tensorboard and rank == 0 else None
        # DistributedDataParallel over the ranks (one process: the model itself); --compile on top
        self.ddp = torch.nn.parallel.DistributedDataParallel(self.model) if world > 1 else self.model
        self.forward = torch.compile(self.ddp) if cfg.compile else self.ddp

    # ------------------------------------------------------------ set-up

    def _data(self) -> None:
        """The splits, the samples trained on (--train-photos) and their sampling weights (--balance)."""
        cfg = self.cfg
        self.train_set = LabDataset(cfg.data, "train")
        self.val_set = LabDataset(cfg.data, "val")
        if len(self.train_set) == 0:
            raise PolychromifyError(f"dataset {cfg.data} has no training samples")
        self.pool = self.train_set.photo_subset(cfg.train_photos, cfg.seed)
        self.sample_weights = self.train_set.balance_weights(cfg.balance, cfg.seed, self.pool)
        self.extra_set = LabDataset(cfg.extra_data, "train") if cfg.extra_data else None
        if self.extra_set is not None and len(self.extra_set) == 0:
            raise PolychromifyError(f"--extra-data {cfg.extra_data} has no training samples")
        if self.extra_set is not None and self.extra_set.size != self.train_set.size:
            raise PolychromifyError(
                f"--extra-data {cfg.extra_data} has {self.extra_set.size}-pixel samples, "
                f"--data {self.train_set.size}-pixel ones"
            )

    def _model(self, resume: bool) -> None:
        """The network (seeded, or from --init's weights), its --teacher and the loss's class weights."""
        cfg = self.cfg
        torch.manual_seed(cfg.seed)
        # on resume the saved state holds the weights: a pretrained file is not needed (nor read) again
        args = {k: v for k, v in cfg.model_args.items() if not (resume and k in BUILD_ONLY_ARGS)}
        self.model: ColorModel = create_model(cfg.model, **args).to(self.device)
        if cfg.init and not resume:
            checkpoint.load_into(self.model, cfg.init)
        self.teacher = self._teacher()
        self.model = self.model.to(memory_format=torch.channels_last)
        self.class_weights = self._class_weights()

    def _teacher(self) -> ColorModel | None:
        """The frozen model whose colours of the clean input the network also learns (`--teacher`): with
        `--degrade`, a damaged print is pulled towards the colours its clean photo gets, and a clean one
        keeps the teacher's."""
        if self.cfg.teacher is None:
            return None
        teacher = checkpoint.load_model(self.cfg.teacher, self.device).requires_grad_(False)
        if teacher.kind != "classification" or self.model.kind != "classification":
            raise PolychromifyError("--teacher needs a bin model (classification) for both networks")
        if not torch.equal(teacher.bins, self.model.bins):  # (False for other shapes too)
            raise PolychromifyError(f"--teacher {self.cfg.teacher} predicts other ab bins than the network")
        return teacher.to(memory_format=torch.channels_last)

    def _class_weights(self) -> torch.Tensor | None:
        """Rebalancing weights from the empirical ab-bin prior of (up to 2,000) training samples."""
        if self.model.kind != "classification":
            return None
        n = len(self.pool)
        idx = self.pool[np.linspace(0, n - 1, min(n, 2000)).astype(np.int64)]
        bins = self.model.bins.cpu().numpy()
        prior = bin_prior(self.train_set.batch(idx)[1], bins)
        weights = rebalance_weights(prior, lam=self.cfg.rebalance, bins=bins)
        return torch.as_tensor(weights, dtype=torch.float32, device=self.device)

    def _optimiser(self) -> None:
        """The arithmetic, Adam and its base learning rates (which the schedule scales, step by step)."""
        # every rank trains in rank 0's arithmetic (a rank on another kind of machine would resolve otherwise)
        choice = resolve(self.cfg.precision, self.device, self.model, announce=self.rank == 0)
        self.precision = from_rank0(choice).precision
        self.opt = make_optimizer(self.model, self.cfg.lr, self.device)
        self.base_lrs = [g["lr"] for g in self.opt.param_groups]

    def _load_state(self) -> None:
        """--resume: weights, optimiser and counters from train_state.pt; later metrics lines dropped."""
        path = self.run / STATE
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
            self.model.load_state_dict(state["model"])
            self.opt.load_state_dict(state["optimizer"])
        except FileNotFoundError:
            raise PolychromifyError(f"nothing to resume in {self.run}: no {STATE}") from None
        except (RuntimeError, KeyError, ValueError, OSError) as exc:
            raise PolychromifyError(f"cannot resume from {path}: {str(exc).splitlines()[0][:200]}") from None
        self.epoch, self.best_epoch, self.bad_epochs = (int(x) for x in state["counters"])
        self.best_val, self.seconds = (float(x) for x in state["floats"])
        # metrics of epochs after the saved state (a crash between the two writes) are dropped
        lines = (self.run / METRICS).read_text().splitlines() if (self.run / METRICS).exists() else []
        kept = [x for x in lines if x.strip() and json.loads(x)["epoch"] <= self.epoch]
        checkpoint.atomic_write_text(self.run / METRICS, "".join(x + "\n" for x in kept))

    # ------------------------------------------------------------ the loop

    def fit(self) -> Path:
        """Each epoch: its training steps, validation, then (rank 0) logs and checkpoint; until the planned
        epochs, --max-minutes or early stopping (--patience). Last, the final config."""
        cfg = self.cfg
        start = time.monotonic() - self.seconds  # a resumed run's clock goes on from its saved time
        stop_reason = "epochs"
        while self.epoch < cfg.epochs:
            out_of_time = self.run_epoch(start)
            val = self.validate()
            improved = self._count_epoch(val["val_loss"], start)
            if self.rank == 0:
                self._log(val)
                self._checkpoint(improved or cfg.keep == "last")
            if out_of_time or (cfg.patience and self.bad_epochs >= cfg.patience):
                stop_reason = "max_minutes" if out_of_time else "early_stopping"
                break
        if self.rank == 0:
            self._write_config(stop_reason)
        if self.board is not None:
            self.board.close()
        return self.run

    def run_epoch(self, start: float) -> bool:
        """One pass over this rank's share of the epoch's samples; returns True when out of time."""
        cfg = self.cfg
        self.ddp.train()
        order = self._epoch_order()
        steps = len(order) // cfg.batch_size or 1
        if cfg.steps_per_epoch:
            steps = min(steps, cfg.steps_per_epoch)
        gen = torch.Generator().manual_seed(cfg.seed * 1000 + self.epoch)  # the epoch's flips and hints
        desc = f"epoch {self.epoch + 1}/{cfg.epochs}"
        bar = tqdm(range(steps), desc=desc, disable=not self.progress or None, leave=False)
        total, out_of_time, seen, t0 = 0.0, False, 0, time.perf_counter()
        for step in bar:
            idx = order[step * cfg.batch_size : (step + 1) * cfg.batch_size]
            L, ab, hints, clean = self._batch(idx, step, gen)
            self._set_lr((self.epoch + step / steps) / cfg.epochs)
            loss = self.step(L, ab, hints, clean)
            if not math.isfinite(loss):
                raise PolychromifyError(
                    f"loss became {loss} at epoch {self.epoch + 1}, step {step + 1}; stopped. "
                    f"The last good checkpoint (epoch {self.epoch}) is kept in {self.run}; try a lower --lr"
                )
            total += loss
            seen += len(idx)
            bar.set_postfix(loss=f"{total / (step + 1):.4f}")
            if cfg.max_minutes is not None and self._agree(time.monotonic() - start > cfg.max_minutes * 60):
                out_of_time = True
                break
        self.train_loss = total / (step + 1)
        self.images_per_s = seen * self.world / (time.perf_counter() - t0)  # training steps only
        return out_of_time

    def _epoch_order(self) -> np.ndarray:
        """This rank's sample order for the epoch: the same global permutation (or balanced draw) on every
        rank, dealt out round-robin, so N processes see what one would see with an N-times larger batch."""
        n = len(self.pool)
        rng = np.random.default_rng([self.cfg.seed, self.epoch])
        if self.sample_weights is None:
            order = self.pool[rng.permutation(n)]
        else:
            order = self.pool[rng.choice(n, size=n, replace=True, p=self.sample_weights)]
        usable = len(order) // self.world * self.world or len(order)
        return order[:usable][self.rank :: self.world]

    def _batch(
        self, idx: np.ndarray, step: int, gen: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None, torch.Tensor]:
        """Samples `idx` as (input L, true ab, hints or None, clean L): flipped, damaged and hinted as
        configured. The flips draw from `gen` before the hints (seeded runs repeat only in this order)."""
        cfg = self.cfg
        flip = (torch.rand(len(idx), generator=gen) < 0.5).numpy() if cfg.flip else None
        rng = np.random.default_rng([cfg.seed, self.epoch, step, 1])  # the tonal mixes and extra samples
        own = self._own(len(idx))
        extra = len(idx) - own
        clean, ab = self.train_set.batch(idx[:own], None if flip is None else flip[:own])
        if cfg.tonal:  # another film's grey of the same colours
            pick = torch.from_numpy(rng.random(own) < cfg.tonal)
            mixes = torch.from_numpy(tonal_mix(rng, int(pick.sum()))).float()
            clean[pick] = remix_lightness(clean[pick], ab[pick], mixes)
        if extra:  # the extra set's samples (drawn with replacement) after the batch's own
            more = rng.integers(0, len(self.extra_set), extra)
            L2, ab2 = self.extra_set.batch(more, None if flip is None else flip[own:])
            clean, ab = torch.cat([clean, L2]), torch.cat([ab, ab2])
        L = clean
        if cfg.degrade:  # the input only: the network learns the clean colours of a damaged print
            rng = np.random.default_rng([cfg.seed, self.epoch, step])
            L = degrade_batch(clean, rng, cfg.degrade, zoom=cfg.degrade_zoom)
        hints = sample_hints(ab, generator=gen, p=cfg.hint_p) if self.model.takes_hints else None
        return L, ab, hints, clean

    def _own(self, n: int) -> int:
        """How many of a batch of n are --data samples (first); the rest are --extra-data's."""
        return n - round(self.cfg.extra_share * n) if self.extra_set is not None else n

    def _set_lr(self, progress: float) -> None:
        """The schedule's learning rates at `progress` (0 to 1) of the planned epochs."""
        factor = lr_factor(self.cfg.schedule, progress)
        for group, base in zip(self.opt.param_groups, self.base_lrs, strict=True):
            group["lr"] = base * factor

    def step(
        self, L: torch.Tensor, ab: torch.Tensor, hints: torch.Tensor | None, clean: torch.Tensor | None = None
    ) -> float:
        """Forward, backward and Adam update on one batch; returns the loss. clean: the undamaged L, which
        the teacher (if any) colours."""
        L, ab = self._to_device(L), self._to_device(ab)
        hints = self._to_device(hints) if hints is not None else None
        x = ColorModel.make_input(L, hints, self.model.takes_hints)
        with autocast(self.device.type, self.precision):
            out = self.forward(x)
        loss = compute_loss(self.model, out.float(), ab, self.class_weights)
        if self.teacher is not None:  # (1 - w) x the truth's term + w x the teacher's
            # on the --data samples only: the --extra-data ones (real prints) are learned from their truth
            own = self._own(len(L))
            clean = self._to_device(L if clean is None else clean)[:own]
            with torch.no_grad(), autocast(self.device.type, self.precision):
                given = None if hints is None else hints[:own]
                target = self.teacher(ColorModel.make_input(clean, given, self.teacher.takes_hints))
            w = self.cfg.distill
            loss = (1 - w) * loss + w * distill_loss(out[:own].float(), target.float())
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return float(loss.detach())

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        """Validation loss, seed accuracy and ab MSE over this rank's share, summed over ranks."""
        self.model.eval()
        idx = np.arange(self.rank, len(self.val_set), self.world)
        sums = torch.zeros(4, dtype=torch.float64)  # loss, seed_accuracy, mse, count (weighted by batch)
        batches = [idx[i : i + self.cfg.batch_size] for i in range(0, len(idx), self.cfg.batch_size)]
        for chunk in batches[: self.cfg.val_batches]:
            L, ab = self.val_set.batch(chunk)
            L, ab = self._to_device(L), self._to_device(ab)
            with autocast(self.device.type, self.precision):
                out = self.model(ColorModel.make_input(L, None, self.model.takes_hints)).float()
            pred = self.model.decode(out, L.shape[-2:])
            loss = float(compute_loss(self.model, out, ab, self.class_weights))
            terms = [loss, metrics.seed_accuracy(pred, ab), metrics.mse_ab(pred, ab), 1]
            sums += torch.tensor([t * len(chunk) for t in terms], dtype=torch.float64)
        if self.world > 1:
            dist.all_reduce(sums)
        if sums[3] == 0:  # no validation split: fall back on the training loss
            return {"val_loss": self.train_loss}
        return {
            "val_loss": float(sums[0] / sums[3]),
            "val_seed_accuracy": float(sums[1] / sums[3]),
            "val_mse_ab": float(sums[2] / sums[3]),
        }

    def _count_epoch(self, val_loss: float, start: float) -> bool:
        """The counters after an epoch (best, epochs without improvement, time); True if it is the best."""
        self.epoch += 1
        self.seconds = time.monotonic() - start
        improved = val_loss < self.best_val
        if improved:
            self.best_val, self.best_epoch, self.bad_epochs = val_loss, self.epoch, 0
        else:
            self.bad_epochs += 1
        return improved

    # ------------------------------------------------------------ logs and checkpoint (rank 0)

    def _log(self, val: dict[str, float]) -> None:
        """The epoch's line of metrics.jsonl and, with --tensorboard, its curves and picture."""
        record = {
            "epoch": self.epoch,
            "train_loss": self.train_loss,
            **val,
            "seconds": round(self.seconds, 2),
            "images_per_s": round(self.images_per_s, 2),
        }
        with open(self.run / METRICS, "a") as f:
            f.write(json.dumps(record) + "\n")
        if self.board is not None:
            data = self.val_set if len(self.val_set) else self.train_set
            lr = self.opt.param_groups[0]["lr"]
            self.board.epoch(self.epoch, record, lr, self.model, data, self.precision)

    def _checkpoint(self, keep_weights: bool) -> None:
        """model.safetensors (when `keep_weights`), train_state.pt (atomically) and a "running" config."""
        if keep_weights:
            checkpoint.save_weights(self.run / checkpoint.WEIGHTS, self.model)
        state = {
            "model": {k: v.detach().cpu() for k, v in self.model.state_dict().items()},
            "optimizer": self.opt.state_dict(),
            "counters": torch.tensor([self.epoch, self.best_epoch, self.bad_epochs], dtype=torch.int64),
            "floats": torch.tensor([self.best_val, self.seconds], dtype=torch.float64),
        }
        tmp = self.run / f".{STATE}.tmp"
        torch.save(state, tmp)
        os.replace(tmp, self.run / STATE)
        self._write_config("running")

    def _write_config(self, status: str) -> None:
        m = self.train_set.manifest
        extra = {
            "train": asdict(self.cfg),
            "data": {
                "source": m["source"],
                "size": m["config"]["size"],
                "counts": m["counts"],
                "photos": m["photos"],
            },
            "status": status,
            "precision": self.precision,  # what `train.precision` resolved to on this machine
            "epochs_done": self.epoch,
            "best_epoch": self.best_epoch,
            "best_val_loss": self.best_val,
            "train_seconds": round(self.seconds, 2),
            "world_size": self.world,
            "device": str(self.device),
        }
        weights = self.run / checkpoint.WEIGHTS
        if not weights.exists():
            checkpoint.save_weights(weights, self.model)
        checkpoint.write_config(self.run, self.model, extra)

    # ------------------------------------------------------------ helpers

    def _to_device(self, t: torch.Tensor) -> torch.Tensor:
        return t.to(self.device, non_blocking=True).contiguous(memory_format=torch.channels_last)

    def _agree(self, flag: bool) -> bool:
        """True on every rank if it is true on any (so all ranks stop at the same step)."""
        if self.world == 1:
            return flag
        t = torch.tensor([float(flag)])
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return bool(t.item())


def _claim_run_dir(run: Path, resume: bool, overwrite: bool) -> None:
    if resume:
        if not (run / STATE).exists():
            raise PolychromifyError(f"nothing to resume in {run}: no {STATE}")
        return
    if run.exists() and any(run.iterdir()):
        if not overwrite:
            raise PolychromifyError(
                f"{run} already exists; pass --resume to continue it or --overwrite to replace it"
            )
        if not (run / checkpoint.CONFIG).exists():
            raise PolychromifyError(f"{run} exists and is not a run folder; choose another --out")
        shutil.rmtree(run)
    run.mkdir(parents=True, exist_ok=True)


def resume_config(run: str | Path, **overrides: Any) -> TrainConfig:
    """The TrainConfig saved in a run folder, with some fields overridden (e.g. more epochs)."""
    saved = checkpoint.read_config(run).get("train")
    if not isinstance(saved, dict):
        raise PolychromifyError(f"{run} was not made by `polychromify train`; nothing to resume")
    saved |= {k: v for k, v in overrides.items() if v is not None}
    saved["out"] = str(run)
    return TrainConfig(**saved)


def train_job(job: TrainJob) -> Path:
    """`polychromify train`: a new run, or `--resume RUN` with the options given that a resume may change
    (`RESUMABLE`: more epochs, more minutes, another device)."""
    if job.resume:
        cfg = resume_config(job.resume, **{k: getattr(job.run, k) for k in RESUMABLE if k in job.given})
    elif missing := [f"--{k}" for k in ("model", "data", "out") if getattr(job.run, k) is None]:
        raise PolychromifyError(f"train needs {', '.join(missing)} (or --resume RUN)")
    else:
        cfg = job.run
    return train(cfg, resume=bool(job.resume), overwrite=job.overwrite)


def summary(run: Path) -> str:
    """What a finished run did, in one line for people."""
    config = json.loads((run / checkpoint.CONFIG).read_text())
    return (
        f"trained {config['arch']['name']} ({config['parameters']:,} parameters) for "
        f"{config['epochs_done']} epochs in {config['train_seconds']:.0f} s "
        f"(best epoch {config['best_epoch']}, val loss {config['best_val_loss']:.4f}, "
        f"stopped by {config['status']}) -> {run}"
    )
