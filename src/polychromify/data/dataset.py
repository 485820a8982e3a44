"""Read a `prepare` output: memory-mapped Lab shards -> float32 tensors, a batch at a time."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from scipy.cluster.vq import kmeans2

from polychromify.color import normalize_l
from polychromify.data.prepare import FORMAT, SPLITS
from polychromify.errors import PolychromifyError


def load_manifest(root: str | Path) -> dict:
    """manifest.json of a prepared dataset, or a clear error when `root` is not one."""
    path = Path(root) / "manifest.json"
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError):
        manifest = None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise PolychromifyError(f"{root} is not a dataset made by `polychromify prepare`")
    return manifest


def first_views(samples: list[dict]) -> np.ndarray:
    """Indices of the first of each photo's samples (by "source"), in order: `prepare` writes the whole
    photo first and its random crops after it."""
    first: dict[str, int] = {}
    for i, sample in enumerate(samples):
        first.setdefault(sample["source"], i)
    return np.array(list(first.values()), dtype=np.int64)


class LabDataset:
    """One split of a prepared dataset, without loading it into RAM (np.load(mmap_mode='r'))."""

    def __init__(self, root: str | Path, split: str = "train") -> None:
        if split not in SPLITS:
            raise PolychromifyError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
        self.root = Path(root)
        self.manifest = load_manifest(root)
        shards = self.manifest["shards"][split]
        try:
            self._L = [np.load(self.root / s["L"], mmap_mode="r") for s in shards]
            self._ab = [np.load(self.root / s["ab"], mmap_mode="r") for s in shards]
        except (OSError, ValueError) as exc:
            raise PolychromifyError(f"damaged dataset {root}: {exc}") from None
        self.offsets = np.cumsum([0] + [len(x) for x in self._L])
        self.samples: list[dict] = self.manifest["samples"][split]
        if self.offsets[-1] != len(self.samples):
            raise PolychromifyError(f"damaged dataset {root}: shard sizes do not match the manifest")

    def __len__(self) -> int:
        return int(self.offsets[-1])

    @property
    def size(self) -> int:
        return int(self.manifest["config"]["size"])

    def batch(self, idx: np.ndarray, flip: np.ndarray | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Samples `idx` -> (L (n,1,S,S) normalised to [-1,1], ab (n,2,S,S) in [-1,1]), float32.
        `flip` (n,) bool: mirror those samples left to right (the training's augmentation)."""
        idx = np.asarray(idx, dtype=np.int64)
        shard = np.searchsorted(self.offsets, idx, side="right") - 1
        L = np.empty((len(idx), 1, self.size, self.size), np.float16)
        ab = np.empty((len(idx), 2, self.size, self.size), np.float16)
        for s in np.unique(shard):
            sel = shard == s
            local = idx[sel] - self.offsets[s]
            L[sel] = self._L[s][local]
            ab[sel] = self._ab[s][local]
        if flip is not None and flip.any():  # in float16: half the bytes to move
            L[flip], ab[flip] = L[flip][..., ::-1], ab[flip][..., ::-1]
        # float16 -> float32 in torch: vectorised, 5x faster than numpy's astype here
        return normalize_l(torch.from_numpy(L).float()), torch.from_numpy(ab).float()

    def whole_photos(self) -> np.ndarray:
        """Indices of each photo's first sample: the whole photo (its random crops follow it)."""
        return first_views(self.samples)

    def photo_subset(self, photos: int | None, seed: int = 0) -> np.ndarray:
        """Indices of the samples of `photos` photos drawn at random (seeded), all of them for None."""
        if photos is None:
            return np.arange(len(self))
        sources = sorted({s["source"] for s in self.samples})
        if not 1 <= photos <= len(sources):
            raise PolychromifyError(f"--train-photos must be 1..{len(sources)} (the training photos)")
        keep = set(np.random.default_rng(seed).choice(sources, size=photos, replace=False).tolist())
        return np.array([i for i, s in enumerate(self.samples) if s["source"] in keep], dtype=np.int64)

    def balance_weights(
        self, mode: str, seed: int = 0, idx: np.ndarray | None = None, k: int = 8
    ) -> np.ndarray | None:
        """Sampling weight of each sample `idx` (default: all) that equalises groups: 'categories' (the
        photo's folder) or 'clusters' (k-means of per-sample colour statistics: mean L, mean and std of a
        and b); None for 'none'."""
        idx = np.arange(len(self)) if idx is None else idx
        if mode == "none":
            return None
        if mode == "categories":
            groups = np.array([str(self.samples[i]["category"]) for i in idx])
        elif mode == "clusters":
            groups = self._colour_clusters(k, seed)[idx]
        else:
            raise PolychromifyError(f"unknown balance mode {mode!r}: use none, categories or clusters")
        _, inverse, counts = np.unique(groups, return_inverse=True, return_counts=True)
        weights = 1.0 / counts[inverse]
        return weights / weights.sum()

    def _colour_clusters(self, k: int, seed: int) -> np.ndarray:
        stats = np.empty((len(self), 5), np.float64)
        for start in range(0, len(self), 256):
            L, ab = self.batch(np.arange(start, min(start + 256, len(self))))
            stats[start : start + len(L)] = torch.cat(
                [L.mean((2, 3)), ab.mean((2, 3)), ab.std((2, 3))], dim=1
            ).numpy()
        stats = (stats - stats.mean(0)) / (stats.std(0) + 1e-6)
        _, labels = kmeans2(stats, min(k, len(self)), seed=seed, minit="++")
        return labels
