"""One thread budget per process (runtime.set_thread_budget) and colour-managed photos at full speed."""

import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import ImageCms

from polychromify.color import to_grey
from polychromify.data import images
from polychromify.data.images import open_image
from polychromify.runtime import _cgroup_quota
from tests.conftest import REPO, make_photo
from tests.corpus import adobe_rgb_icc, wide_gamut_icc

ENV = {k: v for k, v in os.environ.items() if not k.startswith(("OMP_", "MKL_", "OPENBLAS_NUM"))}


def in_fresh_process(code: str, cores: set[int] | None = None, env: dict | None = None) -> dict:
    """Run `code` (which prints one JSON line) in a new interpreter, on `cores` if given."""
    pre = f"import os; os.sched_setaffinity(0, {sorted(cores)!r}); " if cores else ""
    out = subprocess.run(
        [sys.executable, "-c", pre + code], capture_output=True, text=True, env=ENV | (env or {}), check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


REPORT = (
    "import json, os, polychromify, torch; "
    "print(json.dumps({'torch': torch.get_num_threads(), 'wait': os.environ.get('OMP_WAIT_POLICY')}))"
)


def test_the_budget_is_the_cores_this_process_may_use_with_sleeping_threads():
    got = in_fresh_process(REPORT)
    assert got == {"torch": len(os.sched_getaffinity(0)), "wait": "PASSIVE"}
    assert in_fresh_process(REPORT, cores={0})["torch"] == 1  # affinity, not the machine's count
    assert in_fresh_process(REPORT, env={"OMP_WAIT_POLICY": "ACTIVE"})["wait"] == "ACTIVE"  # the user's wins
    assert in_fresh_process(REPORT, env={"OMP_NUM_THREADS": "1"})["torch"] == 1


def test_a_cgroup_quota_caps_the_budget(tmp_path):
    (tmp_path / "cpu.max").write_text("150000 100000\n")
    assert _cgroup_quota(tmp_path) == 2  # 1.5 CPUs: two threads
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert _cgroup_quota(tmp_path) is None
    (tmp_path / "cpu.max").unlink()
    (tmp_path / "cpu").mkdir()
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("100000\n")
    (tmp_path / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    assert _cgroup_quota(tmp_path) == 1  # cgroup v1
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("-1\n")
    assert _cgroup_quota(tmp_path) is None


def test_threads_option_and_workers_share_the_cores(tmp_path):
    make_photo(1, (40, 30)).save(tmp_path / "a.png")
    cmd = [
        sys.executable,
        "-m",
        "polychromify",
        "colorize",
        str(tmp_path / "a.png"),
        "-o",
        str(tmp_path / "o"),
    ]
    for extra, want in (
        ([], f"threads: {len(os.sched_getaffinity(0))} "),
        (["--threads", "1"], "threads: 1 "),
    ):
        done = subprocess.run(
            cmd + ["--model", "clean", *extra], capture_output=True, text=True, env=ENV, cwd=REPO, check=True
        )
        said = [x for x in done.stderr.splitlines() if "precision:" in x]
        assert len(said) == 1 and want in said[0], done.stderr  # once, on the precision line
    code = "from polychromify.runtime import set_thread_budget as s, budget_line as b; s(None, 2); print(b())"
    line = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV).stdout
    assert f"threads: {max(1, len(os.sched_getaffinity(0)) // 2)} " in line and "shared by 2" in line
    bad = subprocess.run(cmd + ["--threads", "0"], capture_output=True, text=True, env=ENV, cwd=REPO)
    assert (
        bad.returncode == 1 and "--threads must be 1 or more" in bad.stderr and "Traceback" not in bad.stderr
    )


@pytest.mark.parametrize("profile", ["adobe", "odd"])
@pytest.mark.parametrize("grey", [False, True])
def test_a_wide_gamut_photo_is_converted_to_srgb_before_the_grey_is_taken(grey, profile, monkeypatch):
    # big enough for the row blocks (blocks of 2**16 pixels here), or all neutral for the grey table
    monkeypatch.setattr(images, "BLOCK_PIXELS", 1 << 16)
    monkeypatch.setattr(images, "threads", lambda: 3)
    photo = make_photo(7, (400, 300))
    if grey:
        photo = photo.convert("L").convert("RGB")
    icc = adobe_rgb_icc() if profile == "adobe" else wide_gamut_icc()  # "odd": greys do not stay grey
    buf = io.BytesIO()
    photo.save(buf, "PNG", icc_profile=icc)
    got = open_image(buf.getvalue())
    srgb = ImageCms.createProfile("sRGB")
    want = ImageCms.profileToProfile(photo, ImageCms.ImageCmsProfile(io.BytesIO(icc)), srgb)
    assert np.array_equal(np.asarray(got), np.asarray(want))  # the very same pixels as one whole transform
    if not (grey and profile == "adobe"):  # (its greys are sRGB's: the same tone curve and white)
        assert not np.array_equal(np.asarray(got), np.asarray(photo))  # and not the unconverted ones
    grey_in = open_image(buf.getvalue(), keep_grey=True)  # what `colorize` reads: a grey photo may stay 'L'
    assert grey_in.mode == ("L" if grey and profile == "adobe" else "RGB")
    assert np.array_equal(
        to_grey(np.asarray(grey_in)), to_grey(np.asarray(want))
    )  # the grey the network sees
