import hashlib
import json
import shutil
import zipfile
from collections import Counter
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from polychromify.color import rgb_to_lab
from polychromify.data import prepare as prep
from polychromify.data.prepare import PrepareConfig, fingerprint, prepare, split_of
from polychromify.errors import PolychromifyError
from tests.conftest import SAMPLES, digest, make_photo, run_cli
from tests.corpus import bad_files, exif_rotated

FAST = PrepareConfig(size=16, workers=1)


def load_split(out, split):
    m = json.loads((out / "manifest.json").read_text())
    L = [np.load(out / s["L"]) for s in m["shards"][split]]
    ab = [np.load(out / s["ab"]) for s in m["shards"][split]]
    return np.concatenate(L), np.concatenate(ab)


def test_split_proportions_and_determinism():
    shas = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(20000)]
    counts = Counter(split_of(s, 0, (0.64, 0.16, 0.20)) for s in shas)
    assert abs(counts["train"] / 20000 - 0.64) < 0.015
    assert abs(counts["val"] / 20000 - 0.16) < 0.015
    assert abs(counts["test"] / 20000 - 0.20) < 0.015
    assert [split_of(s, 0, (0.64, 0.16, 0.2)) for s in shas[:50]] == [
        split_of(s, 0, (0.64, 0.16, 0.2)) for s in shas[:50]
    ]
    assert [split_of(s, 1, (0.64, 0.16, 0.2)) for s in shas[:50]] != [
        split_of(s, 0, (0.64, 0.16, 0.2)) for s in shas[:50]
    ]


def test_cli_end_to_end_with_real_samples_and_bad_files(photo_dir, tmp_path, capsys):
    shutil.copytree(SAMPLES / "color", photo_dir / "real")
    expected_bad = bad_files(photo_dir / "junk")
    out = tmp_path / "ds"
    assert run_cli("prepare", photo_dir, "--out", out, "--size", 32) == 0
    printed = capsys.readouterr().out
    m = json.loads((out / "manifest.json").read_text())
    n_real = len(list((SAMPLES / "color").glob("*.jpg")))
    assert sum(m["counts"].values()) == 12 + n_real
    assert f"prepared {12 + n_real} samples" in printed
    reasons = {s["file"].split("/")[-1]: s["reason"] for s in m["skipped"]}
    assert set(reasons) == set(expected_bad)
    for name, word in expected_bad.items():
        assert word in reasons[name], (name, reasons[name])
    assert m["categories"] == {"forest": 6, "sea": 6, "real": n_real}
    assert m["config"]["size"] == 32 and m["config"]["split"] == [0.64, 0.16, 0.2]
    total = 0
    for split in ("train", "val", "test"):
        if not m["counts"][split]:
            continue
        L, ab = load_split(out, split)
        assert L.dtype == np.float16 and L.shape == (m["counts"][split], 1, 32, 32)
        assert ab.shape == (m["counts"][split], 2, 32, 32)
        assert L.min() >= 0 and L.max() <= 100.01 and np.abs(ab).max() <= 1
        total += len(L)
    assert total == sum(m["counts"].values())


def test_sample_equals_direct_conversion(photo_dir, tmp_path):
    out = tmp_path / "ds"
    m = prepare(photo_dir, out, FAST, progress=False)
    # a PNG: JPEGs are decoded at reduced size (draft), which changes pixels slightly
    split, i, src = next(
        (k, i, s["source"])
        for k, v in m["samples"].items()
        for i, s in enumerate(v)
        if s["source"].endswith(".png")
    )
    L, ab = load_split(out, split)
    L, ab = L[i : i + 1], ab[i : i + 1]
    tile = (
        Image.open(photo_dir / src)
        .convert("RGB")
        .resize((16, 16), Image.Resampling.BICUBIC, reducing_gap=3.0)
    )
    L0, ab0 = rgb_to_lab(np.asarray(tile))
    np.testing.assert_allclose(L[0, 0], L0, atol=0.1)
    np.testing.assert_allclose(ab[0].transpose(1, 2, 0), ab0, atol=2e-3)


def test_crops_stay_with_their_photo(photo_dir, tmp_path):
    m = prepare(
        photo_dir, tmp_path / "ds", PrepareConfig(size=16, crops_per_image=3, workers=1), progress=False
    )
    where = {}
    for split, samples in m["samples"].items():
        for s in samples:
            where.setdefault(s["source"], set()).add(split)
    assert len(where) == 12 and all(len(v) == 1 for v in where.values())
    per_photo = Counter(s["source"] for v in m["samples"].values() for s in v)
    assert set(per_photo.values()) == {4}


def test_crop_seed_gives_other_crops_of_the_same_split(photo_dir, tmp_path):
    cfg = PrepareConfig(size=16, crops_per_image=2, workers=1)
    a = prepare(photo_dir, tmp_path / "a", cfg, progress=False)
    assert (
        run_cli(
            "prepare",
            photo_dir,
            "--out",
            tmp_path / "b",
            "--size",
            16,
            "--crops-per-image",
            2,
            "--workers",
            1,
            "--crop-seed",
            5,
        )
        == 0
    )
    b = json.loads((tmp_path / "b" / "manifest.json").read_text())
    photos = {split: sorted({s["source"] for s in v}) for split, v in a["samples"].items()}
    assert photos == {split: sorted({s["source"] for s in v}) for split, v in b["samples"].items()}
    pairs = [
        (x["box"], y["box"])
        for split in a["samples"]
        for x, y in zip(a["samples"][split], b["samples"][split], strict=True)
    ]
    assert all(x == y for x, y in pairs if x is None)  # the whole photos are the same samples
    crops = [x != y for x, y in pairs if x is not None]
    assert len(crops) == 24 and sum(crops) >= 20  # nearly every crop moved (tiny photos allow few boxes)
    # other crops are other settings; a dataset made before the option keeps its identity (no rebuild)
    with pytest.raises(PolychromifyError, match="--overwrite"):
        prepare(photo_dir, tmp_path / "a", replace(cfg, crop_seed=5), progress=False)
    settings = {k: v for k, v in asdict(cfg).items() if k != "workers"} | {"workers": 0}  # as it was stored
    before = [str(photo_dir.resolve()), settings, prep.list_sources(photo_dir)]
    for key in ("crop_seed", "grey", "block"):  # options added since, at their defaults
        del before[1][key]
    assert a["fingerprint"] == hashlib.sha256(json.dumps(before).encode()).hexdigest()


def test_zip_input_matches_folder(photo_dir, tmp_path):
    archive = tmp_path / "photos.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for p in sorted(photo_dir.rglob("*")):
            if p.is_file():
                zf.write(p, "landscape pictures/" + p.relative_to(photo_dir).as_posix())
    a = prepare(photo_dir, tmp_path / "a", FAST, progress=False)
    b = prepare(archive, tmp_path / "b", FAST, progress=False)
    assert a["counts"] == b["counts"] and b["categories"] == {"forest": 6, "sea": 6}
    for split in ("train", "val", "test"):
        if a["counts"][split]:
            np.testing.assert_array_equal(
                load_split(tmp_path / "a", split)[1], load_split(tmp_path / "b", split)[1]
            )


def test_rerun_is_skipped_and_overwrite_is_bit_identical(photo_dir, tmp_path, capsys):
    out = tmp_path / "ds"
    assert run_cli("prepare", photo_dir, "--out", out, "--size", 16, "--workers", 1) == 0
    first = digest(out, "*.npy")
    assert run_cli("prepare", photo_dir, "--out", out, "--size", 16, "--workers", 1) == 0
    assert "up to date" in capsys.readouterr().out
    # two worker processes and a forced rebuild give the very same arrays
    assert (
        run_cli("prepare", photo_dir, "--out", out, "--size", 16, "--workers", 2, "--overwrite", "--seed", 0)
        == 0
    )
    assert digest(out, "*.npy") == first
    # other settings need --overwrite
    assert run_cli("prepare", photo_dir, "--out", out, "--size", 24) == 1
    assert "--overwrite" in capsys.readouterr().err


def test_split_stable_when_photos_are_added(photo_dir, tmp_path):
    before = prepare(photo_dir, tmp_path / "a", FAST, progress=False)
    for i in range(100, 106):
        make_photo(i).save(photo_dir / "sea" / f"new{i}.jpg")
    after = prepare(photo_dir, tmp_path / "b", FAST, progress=False)
    split_before = {s["source"]: k for k, v in before["samples"].items() for s in v}
    split_after = {s["source"]: k for k, v in after["samples"].items() for s in v}
    assert all(split_after[src] == k for src, k in split_before.items())
    assert len(split_after) == 18


def test_duplicates_and_exif(photo_dir, tmp_path):
    shutil.copy(photo_dir / "sea" / "p00.png", photo_dir / "sea" / "copy.png")
    exif_rotated(photo_dir / "rot.jpg")
    m = prepare(photo_dir, tmp_path / "ds", FAST, progress=False)
    dup = [s for s in m["skipped"] if "duplicate" in s["reason"]]
    assert len(dup) == 1 and "p00.png" in dup[0]["reason"] + dup[0]["file"]
    assert sum(m["counts"].values()) == 13


@pytest.mark.parametrize("case", ["missing", "empty", "all_bad", "foreign_out", "bad_split", "file_src"])
def test_fatal_cases(case, photo_dir, tmp_path, capsys):
    src, out, extra = photo_dir, tmp_path / "out", []
    if case == "missing":
        src = tmp_path / "nowhere"
    elif case == "empty":
        src = tmp_path / "empty"
        src.mkdir()
    elif case == "all_bad":
        src = tmp_path / "bad"
        bad_files(src)
    elif case == "foreign_out":
        out.mkdir()
        (out / "precious.txt").write_text("keep me")
    elif case == "bad_split":
        extra = ["--split", "0.5,0.5,0.5"]
    elif case == "file_src":
        src = tmp_path / "note.txt"
        src.write_text("x")
    assert run_cli("prepare", src, "--out", out, *extra) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("polychromify: error:")
    assert "Traceback" not in err[0]
    if case == "foreign_out":
        assert (out / "precious.txt").read_text() == "keep me"
    else:
        assert not out.exists()


def test_interrupted_run_leaves_previous_dataset(photo_dir, tmp_path, monkeypatch):
    out = tmp_path / "ds"
    prepare(photo_dir, out, FAST, progress=False)
    before = digest(out, "*.npy")
    calls = {"n": 0}
    real = prep._process

    def dying(job):
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt
        return real(job)

    monkeypatch.setattr(prep, "_process", dying)
    with pytest.raises(KeyboardInterrupt):
        prepare(photo_dir, out, PrepareConfig(size=24, workers=1), overwrite=True, progress=False)
    assert digest(out, "*.npy") == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds", "photos"]  # no temp folders left
    calls["n"] = 0
    with pytest.raises(KeyboardInterrupt):
        prepare(photo_dir, tmp_path / "fresh", FAST, progress=False)
    assert not (tmp_path / "fresh").exists()


def test_a_dataset_keeps_its_identity_across_versions():
    # fingerprints computed by the code of 2026-12-02 (before the options moved to config.py): a dataset
    # prepared then is still found up to date, whatever order the options are declared in now
    items = [("a.jpg", 10, 20), ("b/c.png", 5, 7)]
    src = Path("/nonexistent/photos")
    assert fingerprint(src, items, PrepareConfig(size=32, exclude=("x*",), workers=3)) == (
        "e1099498df59e26bc75b3794bb2b91fdd9bf1bd11b19d643b534811b1f5e68cc"
    )
    assert fingerprint(src, items, PrepareConfig(crop_seed=4, crops_per_image=2)) == (
        "7eb9a8596fd1b64abfa9a59041275e035c0ba00d20f711f5f2aacf7b57277356"
    )
