"""CIELAB conversion and the L/ab normalisation constants: the only place they live.

Conventions used across the package:
  L  in [0, 100]   (CIELAB lightness, D65)
  ab in [-1, 1]    (CIELAB a*, b* divided by AB_SCALE, as the seed does)
Networks see L normalised with `normalize_l` to roughly [-1, 1].
"""

from __future__ import annotations

import numpy as np
from skimage import color as skcolor

AB_SCALE = 128.0  # seed: ab / 128 -> [-1, 1]
L_CENTER = 50.0
L_RANGE = 50.0  # (L - 50) / 50 -> [-1, 1]


def rgb_to_lab(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """sRGB image (H,W,3) uint8 or float in [0,1] -> (L (H,W) in [0,100], ab (H,W,2) in [-1,1]), float32."""
    if rgb.dtype == np.uint8:
        rgb = rgb.astype(np.float32) / 255.0
    lab = skcolor.rgb2lab(rgb.astype(np.float32, copy=False), illuminant="D65")
    return lab[..., 0].astype(np.float32), (lab[..., 1:] / AB_SCALE).astype(np.float32)


def lab_to_rgb(L: np.ndarray, ab: np.ndarray) -> np.ndarray:
    """L (H,W) in [0,100] and ab (H,W,2) in [-1,1] -> sRGB uint8 (H,W,3); out-of-gamut values are clipped."""
    lab = np.concatenate([L[..., None], ab * AB_SCALE], axis=-1).astype(np.float64)
    rgb = skcolor.lab2rgb(lab, illuminant="D65")
    return np.clip(np.rint(rgb * 255.0), 0, 255).astype(np.uint8)


def normalize_l(L: np.ndarray) -> np.ndarray:
    """L in [0,100] -> network input in [-1,1]."""
    return (L - L_CENTER) / L_RANGE


def chroma(ab: np.ndarray) -> np.ndarray:
    """Chroma in CIELAB units of ab (..., 2) given in [-1, 1]."""
    return np.hypot(ab[..., 0], ab[..., 1]) * AB_SCALE
