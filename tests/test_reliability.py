"""Hardening: the hostile corpus through every entry point, and real SIGKILLs in train, prepare, colorize."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from PIL import Image
from safetensors.torch import load_file

from polychromify.web.app import create_app
from tests.conftest import REPO, digest, make_photo, run_cli
from tests.corpus import bad_files, odd_shapes

# Runs `polychromify ARGS` in a child that SIGKILLs itself on the AT-th call of MODULE.ATTR for which WHEN
# (an expression over the call's arguments `a`) holds: no handler, no cleanup, like `kill -9` or a power cut.
KILLER = """
import os, signal, sys, importlib
module = importlib.import_module(sys.argv[1])
owner, name = (getattr(module, sys.argv[2].split(".")[0]), sys.argv[2].split(".")[1]) \\
    if "." in sys.argv[2] else (module, sys.argv[2])
real, at, when, calls = getattr(owner, name), int(sys.argv[3]), sys.argv[4], [0]
def patched(*a, **k):
    if eval(when):
        calls[0] += 1
        if calls[0] == at:
            os.kill(os.getpid(), signal.SIGKILL)
    return real(*a, **k)
setattr(owner, name, patched)
from polychromify.cli import main
main(sys.argv[5:])
"""


def killed(target: str, at: int, args: list, when: str = "True") -> None:
    module, _, attr = target.partition(":")
    env = os.environ | {"PYTHONPATH": str(REPO / "src")}
    r = subprocess.run(
        [sys.executable, "-c", KILLER, module, attr, str(at), when, *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert r.returncode == -signal.SIGKILL, r.stderr[-2000:]


# ---------------------------------------------------------------- the corpus through every entry point


def test_corpus_through_prepare_colorize_and_serve(tmp_path, capsys):
    src = tmp_path / "in"
    bad = bad_files(src)
    shapes = odd_shapes(src)
    for i in range(4):
        make_photo(20 + i, (48, 40)).save(src / f"ok{i}.jpg")

    assert run_cli("prepare", src, "--out", tmp_path / "ds", "--size", "16", "--workers", "1") == 0
    manifest = json.loads((tmp_path / "ds" / "manifest.json").read_text())
    skipped = {s["file"]: s["reason"] for s in manifest["skipped"]}
    for name, word in bad.items():
        assert word in skipped[name], (name, skipped.get(name))
    for name in ("one.png", "row.png", "column.jpg"):
        assert "too small" in skipped[name]
    assert os.fsdecode(b"caf\xe9.jpg") not in skipped and "still.gif" not in skipped

    capsys.readouterr()
    assert run_cli("colorize", src, "-o", tmp_path / "out") == 1  # some inputs failed
    err = capsys.readouterr().err.splitlines()
    failed = {n for n in bad if n not in ("grey.jpg", "readme.txt")}  # grey is colorized; .txt not a photo
    assert sorted(e.split(": ")[1].split("/")[-1] for e in err) == sorted(failed)
    assert all(bad[e.split(": ")[1].split("/")[-1]] in e for e in err)
    for name, size in shapes.items():
        out = tmp_path / "out" / (name + ".png" if name.endswith(".gif") else name)
        assert Image.open(out).size == size, name

    client = TestClient(create_app())
    for name in bad:
        r = client.post("/api/colorize", files={"image": ("x", (src / name).read_bytes())})
        assert (r.status_code == 200) == (name == "grey.jpg"), (name, r.status_code)
        assert r.status_code < 500
    for name, size in shapes.items():
        r = client.post("/api/colorize", files={"image": ("x", (src / name).read_bytes())})
        assert r.status_code == 200 and Image.open(io.BytesIO(r.content)).size == size, name


def test_corpus_through_video(tmp_path, capsys):
    from tests.test_video import make_clip

    make_clip(tmp_path / "clip.mp4", frames=6, audio=False)
    data = (tmp_path / "clip.mp4").read_bytes()
    (tmp_path / "truncated.mp4").write_bytes(data[: len(data) // 3])
    (tmp_path / "zero.mp4").write_bytes(b"")
    bad_files(tmp_path / "images")
    capsys.readouterr()
    for src in ("truncated.mp4", "zero.mp4", "images/animated.gif", "images/bomb.png", "images/notes.jpg"):
        code = run_cli("video", tmp_path / src, "-o", tmp_path / "out.mp4")
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 1 and len(err) == 1 and err[0].startswith("polychromify: error:"), (src, err)
        assert not (tmp_path / "out.mp4").exists()


# ---------------------------------------------------------------- SIGKILL, then run again

TRAIN = ["--model", "v2", "--model-arg", "neurons=low", "--epochs", "3", "--batch-size", "8"]
TRAIN += ["--steps-per-epoch", "2", "--no-flip", "--patience", "0"]


@pytest.mark.parametrize(
    ("target", "at", "when", "epochs_kept"),
    [
        ("polychromify.train:Trainer.step", 5, "True", 2),  # mid-epoch 3
        ("os:replace", 2, "str(a[1]).endswith('train_state.pt')", 1),  # inside epoch 2's checkpoint write
    ],
    ids=["mid-epoch", "mid-checkpoint"],
)
def test_train_killed_resumes_like_uninterrupted(tiny_dataset, tmp_path, target, at, when, epochs_kept):
    full, cut = tmp_path / "full", tmp_path / "cut"
    assert run_cli("train", "--data", tiny_dataset, "--out", full, *TRAIN) == 0
    killed(target, at, ["train", "--data", tiny_dataset, "--out", cut, *TRAIN], when)
    assert json.loads((cut / "config.json").read_text())["epochs_done"] == epochs_kept  # at most 1 lost
    assert run_cli("train", "--resume", cut) == 0
    a, b = load_file(str(full / "model.safetensors")), load_file(str(cut / "model.safetensors"))
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-4, atol=1e-5)
    epochs = [json.loads(x)["epoch"] for x in (cut / "metrics.jsonl").read_text().splitlines()]
    assert epochs == [1, 2, 3]
    assert json.loads((cut / "config.json").read_text())["status"] == "epochs"  # finished, not "running"


@pytest.mark.parametrize("when", ["building", "between the renames"])
def test_prepare_killed_leaves_no_half_dataset(photo_dir, tmp_path, when):
    out = tmp_path / "ds"
    args = ["prepare", photo_dir, "--out", out, "--size", "16", "--workers", "1"]
    assert run_cli(*args) == 0
    before = digest(out)
    make_photo(99).save(photo_dir / "new.jpg")  # a changed input: the next run rebuilds
    if when == "building":
        killed("polychromify.data.prepare:_process", 5, [*args, "--overwrite"])
    else:  # the old dataset moved aside, the new one not yet in place
        killed("os:replace", 2, [*args, "--overwrite"], "'.tmp-' in str(a[0])")
        assert not out.exists()
    assert run_cli("prepare", photo_dir, "--out", tmp_path / "other", "--size", "16") == 0  # unrelated
    if when == "building":
        assert digest(out) == before  # the previous dataset, untouched
    assert run_cli(*args, "--overwrite") == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds", "other", "photos"]  # leftovers tidied
    manifest = json.loads((out / "manifest.json").read_text())
    assert "new.jpg" in [s["source"] for split in manifest["samples"].values() for s in split]


def test_prepare_killed_between_renames_restores_the_previous_dataset(photo_dir, tmp_path):
    out = tmp_path / "ds"
    args = ["prepare", photo_dir, "--out", out, "--size", "16", "--workers", "1"]
    assert run_cli(*args) == 0
    before = digest(out)
    make_photo(99).save(photo_dir / "new.jpg")
    killed("os:replace", 2, [*args, "--overwrite"], "'.tmp-' in str(a[0])")
    assert not out.exists()  # the kill fell between moving the old dataset aside and the new one in
    photo_dir.joinpath("new.jpg").unlink()
    assert run_cli(*args) == 0  # finds the previous dataset again: same inputs, nothing to rebuild
    assert digest(out) == before


def test_colorize_killed_then_skip_existing_finishes_the_folder(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    for i in range(6):
        make_photo(i, (40, 30)).save(src / f"p{i}.png")
    assert run_cli("colorize", src, "-o", tmp_path / "clean") == 0
    out = tmp_path / "out"
    killed("os:replace", 4, ["colorize", src, "-o", out], "'.tmp-' in str(a[0])")  # 3 written, 4th in flight
    done = sorted(p.name for p in out.iterdir() if not p.name.startswith("."))
    assert done == ["p0.png", "p1.png", "p2.png"]
    written = {p.name: p.stat().st_mtime_ns for p in out.glob("p*.png")}
    assert run_cli("colorize", src, "-o", out, "--skip-existing") == 0
    assert all((out / n).stat().st_mtime_ns == t for n, t in written.items())  # not redone
    assert sorted(p.name for p in out.iterdir()) == [f"p{i}.png" for i in range(6)]  # no temp files left
    for i in range(6):
        a, b = (np.asarray(Image.open(d / f"p{i}.png")) for d in (tmp_path / "clean", out))
        assert np.array_equal(a, b)


def test_a_reader_that_stops_early_ends_it_quietly():
    """`polychromify models --json | head -c 10`: exit code 141 and nothing on stderr, not a traceback."""
    env = os.environ | {"PYTHONPATH": str(REPO / "src")}
    cmd = [sys.executable, "-m", "polychromify", "models", "--json"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    proc.stdout.close()  # the reader is gone before the first line is written
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141, err[-2000:]
    assert err == ""
