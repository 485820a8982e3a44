"""Speed on a busy machine, against the quiet machine of the same run; prints JSON.

    python bench/contention.py [--repeats 5] [--sections api,icc,serve,epoch,video] [--policies new,old]

Each case runs in fresh processes, under each thread policy of --policies:
- new: polychromify's thread budget (runtime.set_thread_budget: threads that sleep when idle);
- old: as before it, OpenMP's default (threads spin a while before they sleep) and numpy's OpenBLAS
  with its own pool (set here by OMP_WAIT_POLICY="", which libgomp takes as unset, with a warning).
Cases, each with the quiet figure of the same policy beside it and their ratio:
- api: `polychromify.colorize` on a 12-MP grey photo (bench/inference.py's), median and slowest of
  --repeats calls after a warm-up: quiet; one other process busy on one core (a Python loop); two processes
  colouring at once (the slowest call of either); a process doing numpy matrix products beside;
- icc: the same photo as RGB with an embedded wide-gamut profile (Adobe RGB primaries) against without it,
  quiet;
- serve: bench/load.py --quick with `serve --workers 1` and `--workers 2` (p50 and p95 of valid photos);
- epoch: bench/epoch.py (a real training epoch, images/s) quiet and with a busy core;
- video: a 640x360 film through `polychromify video` (frames/s), quiet and with a busy core.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
POLICIES = {"new": {}, "old": {"OMP_WAIT_POLICY": "", "OPENBLAS_NUM_THREADS": str(os.cpu_count() or 1)}}
CLEAN_ENV = {
    k: v for k, v in os.environ.items() if not k.startswith(("OMP_", "MKL_NUM", "OPENBLAS_NUM", "GOMP_"))
}

WORKER = """
import io, json, sys, time
sys.path.insert(0, {here!r})
from polychromify.runtime import keep_freed_memory
keep_freed_memory()
from polychromify import colorize
from inference import synthetic_grey_photo
from tests.corpus import adobe_rgb_icc
from PIL import Image
grey = synthetic_grey_photo().convert("RGB")
def encoded(icc):
    buf = io.BytesIO()
    grey.save(buf, "JPEG", quality=92, **({{"icc_profile": icc}} if icc else {{}}))
    return buf.getvalue()
photos = {{"plain": encoded(None), "icc": encoded(adobe_rgb_icc())}}
colorize(Image.open(io.BytesIO(photos["plain"])), model="clean")  # warm-up: the model and its tables
print("ready", flush=True)
sys.stdin.readline()  # all workers of a case start together
times = {{k: [] for k in {kinds!r}}}
for _ in range({repeats}):
    for kind in times:
        t0 = time.perf_counter()
        colorize(Image.open(io.BytesIO(photos[kind])), model="clean")
        times[kind].append(time.perf_counter() - t0)
print(json.dumps(times), flush=True)
"""

BUSY = {
    "busy_core": "while True: pass",
    "numpy_beside": "import numpy as np\na = np.random.rand(1024, 1024)\nwhile True: a @ a",
}


@contextlib.contextmanager
def beside(kind: str | None):
    """A neighbour process (a busy loop or numpy work) for the duration of the block."""
    proc = None if kind is None else subprocess.Popen([sys.executable, "-c", BUSY[kind]], env=CLEAN_ENV)
    try:
        time.sleep(0.5 if proc else 0)
        yield
    finally:
        if proc:
            proc.kill()
            proc.wait()


def api_calls(env: dict, workers: int, repeats: int, kinds: tuple[str, ...] = ("plain",)) -> list[dict]:
    """Each worker's call times, the workers started together (after their warm-ups)."""
    code = WORKER.format(here=str(HERE), kinds=kinds, repeats=repeats)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
            cwd=REPO,
        )
        for _ in range(workers)
    ]
    for p in procs:
        assert p.stdout.readline().strip() == "ready"
    for p in procs:
        p.stdin.write("go\n")
        p.stdin.flush()
    return [json.loads(p.communicate()[0].strip().splitlines()[-1]) for p in procs]


def summary(times: list[float], quiet: float) -> dict:
    median, slowest = statistics.median(times), max(times)
    return {
        "median_s": round(median, 3),
        "slowest_s": round(slowest, 3),
        "median_over_quiet": round(median / quiet, 2),
        "slowest_over_quiet": round(slowest / quiet, 2),
    }


def api_section(env: dict, repeats: int) -> dict:
    quiet = api_calls(env, 1, repeats, ("plain", "icc"))[0]
    q = statistics.median(quiet["plain"])
    out = {"quiet": summary(quiet["plain"], q), "icc_profile": summary(quiet["icc"], q)}
    for kind in BUSY:
        with beside(kind):
            out[kind] = summary(api_calls(env, 1, repeats)[0]["plain"], q)
    both = api_calls(env, 2, repeats)
    out["two_processes"] = summary(both[0]["plain"] + both[1]["plain"], q)
    return out


def run_json(cmd: list[str], env: dict) -> dict:
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO)
    if done.returncode:
        return {"error": done.stderr.strip().splitlines()[-1:] or ["failed"]}
    try:
        return json.loads(done.stdout)
    except ValueError:
        return json.loads(done.stdout.strip().splitlines()[-1])


def serve_section(env: dict) -> dict:
    out = {}
    for workers in (1, 2):
        r = run_json([sys.executable, str(HERE / "load.py"), "--quick", "--workers", str(workers)], env)
        keys = ("valid_p50_ms", "valid_p95_ms", "requests_per_s", "wrong", "busy_503", "error")
        out[f"workers_{workers}"] = {k: r[k] for k in keys if k in r}
    return out


def epoch_section(env: dict) -> dict:
    cmd = [sys.executable, str(HERE / "epoch.py"), "--steps", "16"]
    quiet = run_json(cmd, env)
    with beside("busy_core"):
        busy = run_json(cmd, env)
    rate = "epoch_images_per_s"
    return {
        "quiet": quiet.get(rate),
        "busy_core": busy.get(rate),
        "quiet_over_busy": round(quiet[rate] / busy[rate], 2) if rate in quiet and rate in busy else None,
    }


def video_section(env: dict, tmp: Path) -> dict:
    import av
    import numpy as np

    clip = tmp / "film.mp4"
    if not clip.exists():
        with av.open(str(clip), "w") as f:
            s = f.add_stream("libx264", rate=25)
            s.width, s.height, s.pix_fmt = 640, 360, "yuv420p"
            rng = np.random.default_rng(0)
            base = rng.integers(0, 256, (360, 700), dtype=np.uint8)
            for i in range(75):
                grey = np.ascontiguousarray(base[:, i // 2 : i // 2 + 640])
                for packet in s.encode(av.VideoFrame.from_ndarray(np.repeat(grey[..., None], 3, 2), "rgb24")):
                    f.mux(packet)
            for packet in s.encode():
                f.mux(packet)

    def fps() -> float:
        out = tmp / "out.mp4"
        out.unlink(missing_ok=True)
        t0 = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "polychromify", "video", str(clip), "-o", str(out), "--model", "clean"],
            env=env,
            cwd=REPO,
            check=True,
            capture_output=True,
        )
        return 75 / (time.perf_counter() - t0)

    quiet = fps()
    with beside("busy_core"):
        busy = fps()
    return {
        "quiet_fps": round(quiet, 2),
        "busy_core_fps": round(busy, 2),
        "quiet_over_busy": round(quiet / busy, 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--sections", default="api,serve,epoch,video")
    ap.add_argument("--policies", default="new,old")
    ap.add_argument(
        "--src", type=Path, help="run another checkout's package (its src/), e.g. the code before the budget"
    )
    args = ap.parse_args()
    from polychromify.precision import machine

    result = {"machine": machine(), "repeats": args.repeats, "src": str(args.src or "src"), "policies": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for policy in args.policies.split(","):
            path = f"{args.src.resolve()}:{REPO}" if args.src else str(REPO)
            env = CLEAN_ENV | POLICIES[policy] | {"PYTHONPATH": path}
            sections = {}
            for name in args.sections.split(","):
                if name == "api":
                    sections["api"] = api_section(env, args.repeats)
                elif name == "serve":
                    sections["serve"] = serve_section(env)
                elif name == "epoch":
                    sections["epoch"] = epoch_section(env)
                elif name == "video":
                    sections["video"] = video_section(env, Path(tmp))
                print(json.dumps({policy: {name: sections.get(name)}}), file=sys.stderr, flush=True)
            result["policies"][policy] = sections
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
