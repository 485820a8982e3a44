"""Where a keyframed pan's flicker along the motion comes from (#46), on one pan of bench/video.py's
`keyframes` section; prints JSON.

    .venv/bin/python experiments/keyframe_flicker.py --photos HELDOUT [--set 3]

The shot's true first frame is the keyframe. Its colours are carried through the shot two ways: by the
true motion (the pan moves 1 px a frame) and by `Keyframes` (our flow). Each is scored by the bench's
flicker along the motion (`ab_scores`) on frames composed at full size with no encoder (`no_encoder`), and
written as `polychromify video` writes its output (`video_output`: the film's grainy luma kept, 4:2:0
chroma, x264 superfast crf 18; `chromaoffset_-12` spends more bits on the chroma). Then `colorize_video`
with the keyframe, its colours softened by 0.8 px (shipped) and by 2 px (`key_blur`).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import tempfile
from pathlib import Path

import numpy as np
import torch

from polychromify import keyframes as K
from polychromify.flow import dis_flow, guide, warp, warp_between
from polychromify.inference import Colorizer, grid_lightness
from polychromify.video import colorize_video

BENCH = Path(__file__).parents[1] / "bench" / "video.py"


def load_bench():
    spec = importlib.util.spec_from_file_location("bench_video", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def carried(truth: list[np.ndarray], L: np.ndarray) -> dict[str, list[np.ndarray]]:
    """The keyframe's colours (gh,gw,2) on every frame: by the true motion and by `Keyframes`."""
    gh, gw = L.shape[-2:]
    key = K.key_ab(truth[0], (gh, gw))
    step = gw / truth[0].shape[1]  # 1 px a frame at full size
    true = [warp(key, np.full((gh, gw, 2), (t * step, 0), np.float32)) for t in range(len(truth))]
    flow = dis_flow("fast")
    keys = K.Keyframes({0: truth[0]}, flow)
    keys.scan((i, torch.from_numpy(L[i]), i == 0) for i in range(len(truth)))
    guides = [guide(L[i, 0]) for i in range(len(truth))]
    ours = []
    for i, g in enumerate(guides):
        back = (
            None if i == 0 else warp_between(flow(g, guides[i - 1]), flow(guides[i - 1], g), g, guides[i - 1])
        )
        keys(i, back, g)
        ours.append(warp(keys.ab[0], keys.ahead[0].where))
    return {"true_motion": true, "our_flow": ours}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--photos", type=Path, required=True)
    ap.add_argument("--set", type=int, default=3, help="which of the bench's draws (3: the wallpaper)")
    a = ap.parse_args()
    bench = load_bench()
    photos = sorted(p for p in a.photos.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    rng = np.random.default_rng(0)  # the bench's draws
    draws = [photos[:4]] + [list(rng.choice(photos, 4, replace=False)) for _ in range(3)]
    truth, _ = bench.pan_frames(draws[a.set][:1], 48)
    greys = bench.grainy(truth, 6.0, 0)
    colorizer = Colorizer("default", mirror=False)

    def flicker(frames: list[np.ndarray]) -> dict:
        s = bench.ab_scores(frames, truth, [0], [None] * len(truth))
        return {"flicker_along_motion": s["ab_flicker_along_motion"][0]["out"], "ab_error": s["ab_error"]}

    out: dict = {"photo": draws[a.set][0].name}
    with tempfile.TemporaryDirectory() as tmp:
        film = Path(tmp, "grey.mp4")
        bench.write_grey(film, greys)
        L = grid_lightness(greys, colorizer.input_size)
        for name, abs_ in carried(truth, L).items():
            composed = [
                Colorizer.compose(g, torch.from_numpy(x.transpose(2, 0, 1).copy()))
                for g, x in zip(greys, abs_, strict=True)
            ]
            out[name] = {"no_encoder": flicker(composed)}
            for label, options in (("video_output", {}), ("chromaoffset_-12", {"chromaoffset": "-12"})):
                dst = Path(tmp, f"{name}-{label}.mp4")
                bench.write_colours(film, abs_, dst, **options)
                out[name][label] = flicker(bench.decode(dst)) | {"kilobytes": dst.stat().st_size // 1000}
        shipped, keyed = K.KEY_BLUR, Path(tmp, "keyed.mp4")
        for blur in (shipped, 2.0):
            K.KEY_BLUR = blur  # key_ab reads it at each call
            try:
                colorize_video(film, keyed, colorizer, progress=False, keyframes={0: truth[0]})
            finally:
                K.KEY_BLUR = shipped
            out[f"key_blur_{blur:g}"] = flicker(bench.decode(keyed))
            keyed.unlink()
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
