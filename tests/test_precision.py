"""--precision auto: a rule (bf16 where the device has it natively and the family gains from it), never a
timing; the choice is said once."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from polychromify import inference, precision
from polychromify.errors import PolychromifyError
from polychromify.models import create_model
from tests.conftest import REPO, SAMPLES, heldout_copies

CPU = torch.device("cpu")


@pytest.fixture
def cpu_with(monkeypatch):
    """cpu_with(*flags): pretend the CPU has these /proc/cpuinfo flags and nothing that torch probes."""

    def pretend(*flags: str) -> None:
        monkeypatch.setattr(precision, "cpu_flags", lambda: frozenset(flags))
        for probe in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"):
            monkeypatch.setattr(torch.cpu, probe, lambda: False, raising=False)

    return pretend


def test_auto_is_fp32_on_a_cpu_without_native_bf16(cpu_with):
    cpu_with("avx2", "fma")
    choice = precision.choose("auto", CPU, create_model("cnn"))
    assert choice.precision == "fp32" and str(choice) == "precision: fp32 (this CPU has no native bf16)"


@pytest.mark.parametrize("flag", ["avx512_bf16", "amx_bf16"])
def test_auto_is_bf16_on_a_native_cpu_except_for_families_that_lose_in_it(cpu_with, flag):
    cpu_with("avx2", flag)
    assert precision.choose("auto", CPU).precision == "bf16"
    native = precision.Choice("bf16", "this CPU has native bf16")
    assert precision.choose("auto", CPU, create_model("cnn")) == native
    assert precision.choose("auto", CPU, inference.resolve_model("default")).precision == "bf16"
    slow = precision.choose(
        "auto", CPU, create_model("v0")
    )  # fully connected: slower in bf16 (docs/performance.md)
    assert slow.precision == "fp32" and "v0 runs slower in bf16" in slow.reason


def test_auto_is_a_rule_that_never_times_anything(cpu_with, monkeypatch):
    """The same answer however busy the machine is: no clock is read while choosing."""

    def no_clock(*_):
        raise AssertionError("auto read a clock")

    for name in ("perf_counter", "monotonic", "time", "process_time"):
        monkeypatch.setattr(time, name, no_clock)
    for flags in (("avx2",), ("avx2", "avx512_bf16")):
        cpu_with(*flags)
        model = create_model("v2")
        answers = {precision.choose("auto", CPU, model) for _ in range(5)}
        assert len(answers) == 1
        with precision.autocast("cpu", answers.pop().precision), torch.no_grad():
            model.eval()(torch.zeros(1, 1, 16, 16))


def test_auto_on_cuda_follows_the_gpu(monkeypatch):
    cuda = torch.device("cuda")
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert precision.choose("auto", cuda) == precision.Choice("bf16", "this GPU computes bf16")
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert precision.choose("auto", cuda).precision == "fp32"
    assert precision.choose("auto", torch.device("mps")).precision == "fp32"


def test_explicit_bf16_without_native_units_runs_but_warns_with_the_measurement(cpu_with):
    cpu_with("avx2")
    choice = precision.choose("bf16", CPU)
    assert choice.precision == "bf16"
    assert "no native bf16" in choice.warning and "slower than fp32" in choice.warning
    assert precision.choose("fp32", CPU) == precision.Choice("fp32", "asked for")
    cpu_with("avx512_bf16")
    assert precision.choose("bf16", CPU).warning is None
    with pytest.raises(PolychromifyError, match="auto, fp32 or bf16"):
        precision.choose("fp16", CPU)


def test_colorize_cli_says_its_precision_once(tmp_path):
    env = os.environ | {"PYTHONPATH": str(REPO / "src")}
    photo = SAMPLES / "bw" / "tuxpaint-data--sheep.jpg"
    cmd = [sys.executable, "-m", "polychromify", "colorize", str(photo), "-o", str(tmp_path)]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr
    said = [line for line in r.stderr.splitlines() if "precision:" in line]
    native = precision.native_bf16(CPU)[0]
    assert len(said) == 1 and said[0].startswith("polychromify: precision: ")
    fp32 = "polychromify: precision: fp32 (this CPU has no native bf16); threads: "
    assert native or said[0].startswith(fp32)
    assert "Traceback" not in r.stderr and (tmp_path / photo.name).is_file()


def test_one_line_api_loads_the_model_once_and_again_when_its_weights_change(monkeypatch, tmp_path):
    from polychromify import checkpoint

    loads = []
    real = checkpoint.load_model  # what resolve_model loads with
    monkeypatch.setattr(checkpoint, "load_model", lambda *a, **k: loads.append(a[0]) or real(*a, **k))
    inference._kept_colorizer.cache_clear()
    grey = np.full((24, 32), 120, np.uint8)
    inference.colorize(grey)
    first = len(loads)  # the default is a blend: its folder and its two members'
    assert first == 3
    for _ in range(2):
        inference.colorize(grey)
    assert len(loads) == first
    run = tmp_path / "run"
    checkpoint.save_run(run, create_model("cnn"), {})
    inference.colorize(grey, model=run)
    inference.colorize(grey, model=run)
    assert len(loads) == first + 1
    os.utime(run / "model.safetensors", ns=(1, 1))  # retrained in place: the cache must not serve it stale
    inference.colorize(grey, model=run)
    assert len(loads) == first + 2
    assert inference._kept_colorizer.cache_info().maxsize <= 8  # bounded


@pytest.mark.parametrize("asked", ["auto", "bf16"])  # bf16 runs everywhere, emulated (slowly) on AVX2
def test_two_processes_colour_the_same_photos_byte_for_byte(tmp_path, asked):
    photos = heldout_copies(tmp_path / "in", 3, (96, 64), "L")
    env = os.environ | {"PYTHONPATH": str(REPO / "src")}
    outs = []
    for run in ("first", "second"):
        cmd = [sys.executable, "-m", "polychromify", "colorize", str(photos), "-o", str(tmp_path / run)]
        r = subprocess.run([*cmd, "--precision", asked], capture_output=True, text=True, env=env, timeout=300)
        assert r.returncode == 0, r.stderr
        outs.append({p.name: p.read_bytes() for p in (tmp_path / run).iterdir()})
    assert len(outs[0]) == 3 and outs[0] == outs[1]
