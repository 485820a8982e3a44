"""CIELAB conversion and the L/ab normalisation constants: the only place they live.

Conventions used across the package:
  L  in [0, 100]   (CIELAB lightness, D65)
  ab in [-1, 1]    (CIELAB a*, b* divided by AB_SCALE, as the seed does)
Networks see L normalised with `normalize_l` to roughly [-1, 1].

The second half is the ab quantisation of Zhang et al. 2016 for classification colorizers: the in-gamut
ab grid cells (`ab_bins`), soft-encoded targets, the empirical bin prior, class-rebalancing weights and
the annealed-mean decoding. Bins are (Q,2) arrays/tensors in CIELAB units throughout.
"""

from __future__ import annotations

import functools
import math
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
from skimage import color as skcolor
from torch import nn

AB_SCALE = 128.0  # seed: ab / 128 -> [-1, 1]
L_CENTER = 50.0
L_RANGE = 50.0  # (L - 50) / 50 -> [-1, 1]


def rgb_to_lab(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """sRGB image (H,W,3) uint8 or float in [0,1] -> (L (H,W) in [0,100], ab (H,W,2) in [-1,1]), float32."""
    if rgb.dtype == np.uint8:
        rgb = rgb.astype(np.float32) / 255.0
    lab = skcolor.rgb2lab(rgb.astype(np.float32, copy=False), illuminant="D65")
    return lab[..., 0].astype(np.float32), (lab[..., 1:] / AB_SCALE).astype(np.float32)


def lab_to_rgb(L: np.ndarray, ab: np.ndarray, dtype: type = np.float64) -> np.ndarray:
    """L (H,W) in [0,100] and ab (H,W,2) in [-1,1] -> sRGB uint8 (H,W,3); out-of-gamut values are clipped.
    dtype=np.float32 is ~2.4x faster and differs by one level for ~1e-5 of colours."""
    lab = np.concatenate([L[..., None], ab * AB_SCALE], axis=-1).astype(dtype)
    with warnings.catch_warnings():  # skimage warns about the clipping we document and want
        warnings.filterwarnings("ignore", "Conversion from CIE-LAB", UserWarning)
        rgb = skcolor.lab2rgb(lab, illuminant="D65")
    return np.clip(np.rint(rgb * 255.0), 0, 255).astype(np.uint8)


def normalize_l(L: np.ndarray) -> np.ndarray:
    """L in [0,100] -> network input in [-1,1]."""
    return (L - L_CENTER) / L_RANGE


def grey_srgb(L: torch.Tensor) -> torch.Tensor:
    """Normalised L (N,1,H,W) in [-1,1] -> sRGB value in [0,1] of the neutral grey of that lightness (the
    input of an encoder trained on RGB photos)."""
    lin = _f_inverse(((L * L_RANGE + L_CENTER).clamp(0.0, 100.0) + 16.0) / 116.0)  # Y = linear light
    srgb = torch.where(lin > 0.0031308, 1.055 * lin.clamp_min(1e-8) ** (1 / 2.4) - 0.055, 12.92 * lin)
    return srgb.clamp(0.0, 1.0)


def _f_inverse(f: torch.Tensor) -> torch.Tensor:
    """CIELAB's f(t) undone: f((L+16)/116 and its a, b offsets) -> the relative X, Y or Z (linear light)."""
    return torch.where(f > 6.0 / 29.0, f**3, (f - 4.0 / 29.0) * 3.0 * (6.0 / 29.0) ** 2)


def srgb_to_linear(v: np.ndarray) -> np.ndarray:
    """sRGB-encoded values in [0,1] -> linear light (IEC 61966-2-1's decoding)."""
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)


def chroma(ab: np.ndarray) -> np.ndarray:
    """Chroma in CIELAB units of ab (..., 2) given in [-1, 1]."""
    return np.hypot(ab[..., 0], ab[..., 1]) * AB_SCALE


def ab_length(ab: torch.Tensor) -> torch.Tensor:
    """ab (N,2,...) -> (N,...) sqrt(a^2 + b^2), in ab's own units. Not torch's norm over dim 1, ~100x slower
    on CPU (68 ms against 0.4 for 8 maps of 256x144), nor hypot, which ONNX (opset 17) cannot export."""
    return (ab[:, 0] ** 2 + ab[:, 1] ** 2).sqrt()


# --- ab quantisation (Zhang et al. 2016) -------------------------------------------------------------------


@functools.lru_cache(maxsize=4)
def ab_bins(grid: int = 10) -> np.ndarray:
    """Centres (Q,2) float32 in CIELAB units of the `grid`-spaced ab cells that some sRGB colour falls in.

    Cells are centred on multiples of `grid` (a colour belongs to the cell its ab rounds to). Found by
    converting the faces of the RGB cube (512 steps a side: the ab extremes lie there) plus a coarse
    interior grid to Lab and keeping every cell hit. At grid 10: Q = 262, a in [-90, 100], b in [-110, 90].
    That is fewer than the paper's 313, whose release keeps extra cells at the gamut's edge (a looser test
    we could not reproduce); imported ECCV16 weights bring their own 313 bins. Read-only, cached.
    """
    n = 512
    v = np.linspace(0.0, 1.0, n, dtype=np.float32)
    u, w = (t.ravel() for t in np.meshgrid(v, v, indexing="ij"))
    parts = []
    for axis in range(3):
        others = [i for i in range(3) if i != axis]
        for value in (0.0, 1.0):
            face = np.empty((n * n, 3), np.float32)
            face[:, axis], face[:, others[0]], face[:, others[1]] = value, u, w
            parts.append(face)
    g = np.linspace(0.0, 1.0, 17, dtype=np.float32)
    parts.append(np.stack(np.meshgrid(g, g, g, indexing="ij"), -1).reshape(-1, 3))
    lab = skcolor.rgb2lab(np.concatenate(parts)[None], illuminant="D65")[0]  # (M,3)
    cells = np.rint(lab[:, 1:] / grid).astype(np.int64) + 64  # (M,2) cell indices, in [0,128) for grid >= 2
    codes = np.unique(cells[:, 0] * 128 + cells[:, 1])
    bins = (np.stack([codes // 128, codes % 128], axis=1) - 64).astype(np.float32) * grid
    bins.setflags(write=False)
    return bins


def _flat_lab(ab: torch.Tensor) -> torch.Tensor:
    """ab (N,2,H,W) in [-1,1] -> (N*H*W, 2) in CIELAB units."""
    return ab.permute(0, 2, 3, 1).reshape(-1, 2) * AB_SCALE


def nearest_bin(ab: torch.Tensor, bins: torch.Tensor) -> torch.Tensor:
    """ab (N,2,H,W) in [-1,1] -> index (N,H,W) of the nearest bin (bins (Q,2) in CIELAB units)."""
    return soft_encode_sparse(ab, bins, k=1)[0][..., 0]


def soft_encode(ab: torch.Tensor, bins: torch.Tensor, sigma: float = 5.0, k: int = 5) -> torch.Tensor:
    """ab (N,2,H,W) in [-1,1] -> soft targets (N,Q,H,W) that sum to 1 over Q.

    Each pixel spreads over its k nearest bins with Gaussian weights of width `sigma` (CIELAB units).
    """
    idx, weights = soft_encode_sparse(ab, bins, sigma, k)
    target = weights.new_zeros(*idx.shape[:3], len(bins)).scatter_(3, idx, weights)  # (N,H,W,Q)
    return target.permute(0, 3, 1, 2)


def soft_encode_sparse(
    ab: torch.Tensor, bins: torch.Tensor, sigma: float = 5.0, k: int = 5
) -> tuple[torch.Tensor, torch.Tensor]:
    """`soft_encode`'s non-zeros: the k nearest bins of every pixel, nearest first, (N,H,W,k) indices, and
    their weights (N,H,W,k), which sum to 1."""
    n, _, h, w = ab.shape
    x, b = _flat_lab(ab), bins.to(ab)  # (P,2), (Q,2)
    k = min(k, len(b))
    d2, idx = _nearest_on_grid(x, b, k)
    far = ~torch.isfinite(d2[:, -1])  # not sure from the neighbourhood: search every bin
    if far.any():
        d2[far], idx[far] = (torch.cdist(x[far], b) ** 2).topk(k, dim=1, largest=False)
    weights = torch.softmax(-d2 / (2 * sigma**2), dim=1)  # Gaussian, normalised; stable for far pixels
    return idx.view(n, h, w, -1), weights.view(n, h, w, -1)


def _nearest_on_grid(x: torch.Tensor, bins: torch.Tensor, k: int, grid: float = 10.0, reach: int = 2):
    """The k nearest bins (P,k) of points x (P,2) and their squared distances, among the bins of the
    (2*reach+1)^2 grid cells around each point's own cell (25 candidates instead of all Q). Any bin outside
    that block is at least (reach + 1/2) * grid away, so the answer is exact wherever the k-th distance is
    below that; elsewhere (and if the bins are not on the grid) the distances are inf."""
    cells = torch.round(bins / grid)
    if not torch.equal(cells * grid, bins):
        return x.new_full((len(x), k), torch.inf), x.new_zeros(len(x), k, dtype=torch.long)
    # cell -> bin index (or -1), with a margin of 2*reach cells: a point whose own cell is clamped into the
    # table is more than reach cells from every bin, so it ends beyond the exact radius anyway
    lo = cells.min(0).values.long() - 2 * reach
    rows, cols = (cells.max(0).values.long() + 2 * reach + 1 - lo).tolist()
    table = torch.full((rows * cols,), -1, dtype=torch.long)
    at = cells.long() - lo
    table[at[:, 0] * cols + at[:, 1]] = torch.arange(len(bins))
    own = torch.round(x / grid).long() - lo  # (P,2)
    own = own[:, 0].clamp(reach, rows - 1 - reach) * cols + own[:, 1].clamp(reach, cols - 1 - reach)
    steps = torch.arange(-reach, reach + 1)
    offsets = (steps[:, None] * cols + steps[None, :]).view(-1)  # (C,)
    cand = table.take(own[:, None] + offsets[None])  # (P,C), -1 = no bin in that cell
    safe = cand.clamp(min=0)
    d2 = (x[:, :1] - bins[:, 0].take(safe)) ** 2 + (x[:, 1:] - bins[:, 1].take(safe)) ** 2
    d2, j = d2.masked_fill_(cand < 0, torch.inf).topk(k, dim=1, largest=False)
    d2 = d2.masked_fill_(d2 > ((reach + 0.5) * grid) ** 2, torch.inf)  # beyond the exact radius: unsure
    return d2, cand.gather(1, j)


def bin_prior(ab: np.ndarray | torch.Tensor, bins: np.ndarray | torch.Tensor) -> np.ndarray:
    """Empirical distribution (Q,) float64 of nearest-bin assignments of ab (N,2,H,W) in [-1,1]."""
    t = torch.as_tensor(np.asarray(ab, dtype=np.float32)) if isinstance(ab, np.ndarray) else ab.float().cpu()
    t = t.reshape(t.shape[0], 2, -1, 1) if t.ndim != 4 else t  # (N,2,...) -> (N,2,P,1)
    b = torch.tensor(bins, dtype=torch.float32) if isinstance(bins, np.ndarray) else bins.float().cpu()
    counts = torch.zeros(len(b), dtype=torch.float64)
    for part in t.split(64):
        counts += torch.bincount(nearest_bin(part, b).flatten(), minlength=len(b))
    return (counts / counts.sum().clamp_min(1)).numpy()


def rebalance_weights(
    prior: np.ndarray, lam: float = 0.5, sigma: float = 5.0, bins: np.ndarray | None = None
) -> np.ndarray:
    """Class-rebalancing weights (Q,) float32: w ∝ 1/((1-lam)·p̃ + lam/Q), scaled so sum(p̃·w) = 1.

    p̃ is the prior smoothed by a Gaussian of width `sigma` (CIELAB units) over the bin positions `bins`
    (default `ab_bins()`). lam=1 gives uniform weights (all 1); lam=0 gives w ∝ 1/p̃.
    """
    b = np.asarray(ab_bins() if bins is None else bins, dtype=np.float64)
    p = np.asarray(prior, dtype=np.float64)
    if p.shape != (len(b),):
        raise ValueError(f"prior has shape {p.shape}, expected ({len(b)},) to match the bins")
    d2 = ((b[:, None, :] - b[None, :, :]) ** 2).sum(-1)  # (Q,Q)
    smooth = np.exp(-d2 / (2 * sigma**2)) @ p
    smooth /= smooth.sum()
    w = 1.0 / ((1 - lam) * smooth + lam / len(p))
    return (w / (smooth * w).sum()).astype(np.float32)


def annealed_mean(logits: torch.Tensor, bins: torch.Tensor, T: float = 0.38) -> torch.Tensor:
    """Logits (N,Q,H,W) -> ab (N,2,H,W) in [-1,1]: the mean bin under softmax(logits / T).

    This is the paper's renormalised exp(log z / T). T=1 is the plain mean, T -> 0 the mode; 0.38 is
    Zhang et al.'s choice (vivid yet spatially coherent).
    """
    # With Q last, softmax and the mean are over contiguous memory when the logits are channels-last (as
    # inference runs them): ~3x faster than softmax over dim 1 plus einsum, which copies to reorder.
    # fp32 even inside a bf16 model: autocast would round the probabilities to bf16 for the matmul
    with torch.autocast(logits.device.type, enabled=False):
        probs = torch.softmax(logits.permute(0, 2, 3, 1).float() / T, dim=-1)  # (N,H,W,Q)
        ab = (probs @ bins.to(probs)).permute(0, 3, 1, 2).contiguous()  # (N,2,H,W), plain layout to resize
    return ab.div_(AB_SCALE).clamp_(-1, 1)


# `confident_colours`: the share of a cell's distribution on ab bins of chroma < GREY_CHROMA is how likely
# grey is; the colours are turned down by it and turned up (by up to 1 + BOOST) where it is near 0
GREY_CHROMA, BOOST, SHARPNESS, FAINT = 12.0, 0.5, 12, 8.0


def confident_colours(
    ab: torch.Tensor, logits: torch.Tensor, bins: torch.Tensor, sigma: float
) -> torch.Tensor:
    """ab (N,2,H,W) in [-1,1] decoded from logits (N,Q,H,W) over `bins` (Q,2) -> ab with each cell's chroma
    scaled by q (1 + BOOST q^SHARPNESS), where q = 1 - P(grey), P(grey) being the mass on bins of chroma <
    GREY_CHROMA (smoothed like the colours, by `sigma` cells). Near-grey stone, snow and overcast sky,
    where the network thinks grey likely, lose the cast the mean of a spread distribution gives them; where
    it is sure of a colour, the mean's shyness is undone. A chroma is never turned down below FAINT (a faint
    hue stays)."""
    with torch.autocast(logits.device.type, enabled=False):
        probs = torch.softmax(logits.permute(0, 2, 3, 1).float(), dim=-1)  # (N,H,W,Q), as annealed_mean
        grey = (torch.linalg.vector_norm(bins.float(), dim=1) < GREY_CHROMA).to(probs)
        q = 1 - blur((probs @ grey)[:, None], sigma)  # (N,1,H,W)
        ab = ab.float()
        chroma = ab_length(ab)[:, None].clamp_min(1e-6) * AB_SCALE
        scale = torch.maximum(q * (1 + BOOST * q**SHARPNESS), (FAINT / chroma).clamp(max=1))
        return (ab * scale).clamp(-1, 1)


def blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """(N,C,H,W) blurred by a Gaussian of `sigma` pixels (separable, edges repeated); sigma 0: x itself.
    In torch rather than scipy so that it runs inside an exported ONNX graph and in the model's dtype."""
    if sigma <= 0:
        return x
    r = max(1, math.ceil(2.5 * sigma))
    k = [math.exp(-(t * t) / (2 * sigma * sigma)) for t in range(-r, r + 1)]  # a constant in a traced graph
    k = torch.tensor(k, dtype=x.dtype, device=x.device) / sum(k)
    n, c, h, w = x.shape
    y = nn.functional.pad(x.reshape(n * c, 1, h, w), (r, r, r, r), mode="replicate")
    y = nn.functional.conv2d(nn.functional.conv2d(y, k.view(1, 1, 1, -1)), k.view(1, 1, -1, 1))
    return y.reshape(n, c, h, w)


# ---------------------------------------------------------------- fast full-resolution output
# scikit-image's float64 conversion takes seconds on a 12-megapixel photo. At full resolution the output
# pixel depends only on the grey level (256 values) and on ab, so a table over (grey, a, b) on a grid of
# LUT_STEP CIELAB units (finer than the ~2.3-unit just-noticeable difference), filled once by
# scikit-image itself, turns the conversion into one gather.

LUT_STEP = 2
_K = 256 // LUT_STEP


def grey_lightness() -> np.ndarray:
    """CIELAB L (256,) of the 8-bit grey levels 0..255 (R=G=B)."""
    v = np.arange(256, dtype=np.uint8)
    return rgb_to_lab(np.stack([v, v, v], -1)[None])[0][0]


LUMINANCE = (0.212671, 0.715160, 0.072169)  # sRGB primaries, D65: Y, so CIELAB L


def to_grey(rgb: np.ndarray, mix: tuple[float, float, float] = LUMINANCE) -> np.ndarray:
    """(H,W) or (H,W,3) uint8 -> (H,W) uint8 grey levels with the CIELAB lightness of each pixel.
    mix: the weights of the red, green and blue linear light (summing to 1) that make the grey: the
    luminance by default; another mix is another film's tonal response (`tonal_mix`), e.g. (0, .5, .5) a
    blue-sensitive plate of about 1900.

    Luminance Y from linear light in 1/65535 units (integer tables), then sRGB-encoded: one grey level
    off the exact formula for ~0.2% of colours, and several times faster on multi-megapixel photos. Large
    photos are done in row blocks on torch's threads (numpy's table lookups leave the GIL): 2x on 2 cores."""
    if rgb.ndim == 2:
        return rgb
    if (rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all():
        return np.ascontiguousarray(rgb[..., 0])  # already grey, stored as RGB
    (red, green, blue), encode = _grey_tables(tuple(float(w) for w in mix))
    out = np.empty(rgb.shape[:2], np.uint8)

    def rows(block: slice) -> None:
        part = rgb[block]
        y = red[part[..., 0]]  # (h,W) int32
        y += green[part[..., 1]]
        y += blue[part[..., 2]]
        out[block] = encode[y]

    threads = min(torch.get_num_threads(), max(1, rgb.shape[0] * rgb.shape[1] >> 20))  # a block >= 1 MP
    step = -(-rgb.shape[0] // threads)
    blocks = [slice(i, i + step) for i in range(0, rgb.shape[0], step)]
    if len(blocks) == 1:
        rows(blocks[0])
    else:
        with ThreadPoolExecutor(len(blocks)) as pool:
            list(pool.map(rows, blocks))
    return out


@functools.lru_cache(maxsize=8)
def _grey_tables(mix: tuple[float, float, float]) -> tuple[np.ndarray, np.ndarray]:
    """(3,256) int32: each channel's linear light times its weight in the mix, in 1/65535 units; and the
    sRGB-encoded grey level (uint8) of every such Y (sums may round up to 2 units past 1)."""
    if len(mix) != 3 or min(mix) < 0 or sum(mix) <= 0:
        raise ValueError(f"a channel mix is three weights >= 0, not all 0: {mix}")
    lin = srgb_to_linear(np.arange(256) / 255.0)
    one = (1 << 16) - 1
    weights = np.asarray(mix) / sum(mix)
    channels = np.stack([np.rint(lin * w * one) for w in weights]).astype(np.int32)
    y = np.minimum(np.arange(one + 3) / one, 1.0)
    g = np.where(y <= 0.0031308, 12.92 * y, 1.055 * np.power(y, 1 / 2.4) - 0.055)
    return channels, np.clip(g * 255 + 0.5, 0, 255).astype(np.uint8)


# --- the tonal response of old film ---------------------------------------------------------------------
# A grey photo records each colour's light through its emulsion's spectral sensitivity. As three weights on
# the red, green and blue linear light, along a path through the film of the last 120 years, set by hand
# from the films' descriptions (rough, not measured spectra): blue-sensitive plates (reds black, skies
# white), orthochromatic, panchromatic (the luminance), panchromatic behind a yellow and behind a red
# filter (dark skies). The plates' own green exposures are fitted against their colours by
# `experiments/fit_plate_mixes.py`.
FILM_MIXES = np.array(
    [[0.0, 0.5, 0.5], [0.05, 0.6, 0.35], list(LUMINANCE), [0.35, 0.62, 0.03], [0.6, 0.4, 0.0]]
)


def tonal_mix(rng: np.random.Generator, n: int, jitter: float = 0.05) -> np.ndarray:
    """(n,3) channel mixes drawn along `FILM_MIXES` (uniform over the path, each weight jittered by
    N(0, jitter), kept >= 0 and summing to 1)."""
    t = rng.uniform(0, len(FILM_MIXES) - 1, n)
    i = np.minimum(t.astype(int), len(FILM_MIXES) - 2)
    w = FILM_MIXES[i] + (t - i)[:, None] * (FILM_MIXES[i + 1] - FILM_MIXES[i])
    w = np.clip(w + rng.normal(0, jitter, w.shape), 0, None) + 1e-6
    return w / w.sum(1, keepdims=True)


def remix_lightness(L: torch.Tensor, ab: torch.Tensor, mix: torch.Tensor) -> torch.Tensor:
    """Normalised L (N,1,H,W) and ab (N,2,H,W) in [-1,1] of colour photos -> the normalised L of the grey
    each photo's channels give under `mix` (N,3): what a film of that tonal response recorded. The luminance
    mix gives L back (up to gamut clipping)."""
    fy = (L * L_RANGE + L_CENTER + 16.0) / 116.0
    f = torch.cat([fy + ab[:, :1] * (AB_SCALE / 500.0), fy, fy - ab[:, 1:] * (AB_SCALE / 200.0)], 1)
    xyz = _f_inverse(f) * torch.tensor([0.95047, 1.0, 1.08883], dtype=L.dtype).view(1, 3, 1, 1)  # D65 white
    to_rgb = torch.tensor(
        [
            [3.2404542, -1.5371385, -0.4985314],
            [-0.9692660, 1.8760108, 0.0415560],
            [0.0556434, -0.2040259, 1.0572252],
        ],
        dtype=L.dtype,
    )
    lin = torch.einsum("ij,njhw->nihw", to_rgb, xyz).clamp(0.0, 1.0)
    y = torch.einsum("ni,nihw->nhw", mix.to(L.dtype), lin)[:, None]
    fy = torch.where(
        y > (6.0 / 29.0) ** 3, y.clamp_min(1e-12) ** (1 / 3), y / (3 * (6.0 / 29.0) ** 2) + 4.0 / 29.0
    )
    return normalize_l(116.0 * fy - 16.0)


@functools.lru_cache(maxsize=1)
def _rgb_table() -> torch.Tensor:
    """(256 * K * K, 3) uint8: the sRGB colour of every (grey level, a, b) on the LUT_STEP grid."""
    ab_axis = (np.arange(_K) * LUT_STEP - 128) / AB_SCALE
    a, b = np.meshgrid(ab_axis, ab_axis, indexing="ij")
    L = np.repeat(grey_lightness()[:, None], _K * _K, axis=1)  # (256, K*K)
    ab = np.broadcast_to(np.stack([a.ravel(), b.ravel()], -1)[None], (256, _K * _K, 2))
    return torch.from_numpy(lab_to_rgb(L, ab, np.float32).reshape(-1, 3))  # built in ~0.6 s


def build_tables() -> None:
    """Fill the colour tables now (about a second, once per process) rather than on the first frame."""
    _chroma_table()


def grey_ab_to_rgb(grey: np.ndarray, ab: torch.Tensor) -> np.ndarray:
    """grey (H,W) uint8 and ab (2,h,w) in [-1,1] -> sRGB (H,W,3) uint8 with the grey level's own L."""
    return _rgb_table().index_select(0, _table_index(grey, ab)).view(*grey.shape, 3).numpy()


def grey_ab_to_chroma(grey: np.ndarray, ab: torch.Tensor) -> np.ndarray:
    """grey (H,W) uint8 and ab (2,h,w) -> (2,H,W) uint8: the (Cb, Cr) planes of `grey_ab_to_rgb`'s colours
    in BT.601 limited range (what FFmpeg writes for untagged 8-bit video)."""
    packed = _chroma_table().index_select(0, _table_index(grey, ab)).numpy()  # int16: bytes cb, cr
    return packed.view(np.uint8).reshape(*grey.shape, 2).transpose(2, 0, 1)


def _table_index(grey: np.ndarray, ab: torch.Tensor) -> torch.Tensor:
    """Flat indices into the (grey, a, b) tables. A smaller ab is upsampled bilinearly; it is scaled to
    table units first, at its own size (scaling commutes with bilinear interpolation). An ab at most half
    the grey's size (the network's, on any large photo) is upsampled to half the grey's size only and
    each value serves 2x2 grey pixels, as 4:2:0 JPEG and video store colour: the network's colours hold
    no finer detail, and it is 3.5x faster on a 12-megapixel photo."""
    h, w = grey.shape
    q = ab.float() * (AB_SCALE / LUT_STEP) + 128 / LUT_STEP
    half = 2 * q.shape[-2] <= h and 2 * q.shape[-1] <= w and h % 2 == 0 and w % 2 == 0
    size = (h // 2, w // 2) if half else (h, w)
    if tuple(q.shape[-2:]) != size:
        q = torch.nn.functional.interpolate(q[None], size=size, mode="bilinear", align_corners=False)[0]
    q = q.round_().clamp_(0, _K - 1).to(torch.int32)
    ab_index = q[0].mul_(_K).add_(q[1])  # (size)
    index = _read_only(grey).to(torch.int32).mul_(_K * _K)
    if half:
        index.view(h // 2, 2, w // 2, 2).add_(ab_index[:, None, :, None])
    else:
        index.add_(ab_index)
    return index.view(-1)


@functools.lru_cache(maxsize=1)
def _chroma_table() -> torch.Tensor:
    """(256 * K * K,) int16: packed (Cb, Cr) bytes of every colour of `_rgb_table`."""
    rgb = _rgb_table().float()
    matrix = torch.tensor([[-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]]) * 224 / 255
    cbcr = (rgb @ matrix.T).add_(128).round_().to(torch.int32)
    return (cbcr[:, 0] | cbcr[:, 1] << 8).to(torch.int16)


def _read_only(a: np.ndarray) -> torch.Tensor:
    """A tensor sharing an array (perhaps read-only, as Pillow decodes) that is only read, never written."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "The given NumPy array is not writable", UserWarning)
        return torch.from_numpy(a)
