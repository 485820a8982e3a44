import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

import polychromify
from polychromify import train as train_mod
from polychromify.errors import PolychromifyError
from polychromify.train import TrainConfig, Trainer, train
from tests.conftest import run_cli
from tests.conftest import small_run as cfg


def weights(run):
    return load_file(str(run / "model.safetensors"))


def test_train_cli_writes_a_self_describing_run(tiny_dataset, tmp_path, capsys):
    run = tmp_path / "run"
    code = run_cli(
        "train",
        "--model",
        "v2",
        "--data",
        tiny_dataset,
        "--out",
        run,
        "--epochs",
        2,
        "--batch-size",
        4,
        "--steps-per-epoch",
        2,
        "--model-arg",
        "neurons=low",
    )
    assert code == 0
    assert "trained v2" in capsys.readouterr().out
    config = json.loads((run / "config.json").read_text())
    assert config["arch"] == {"name": "v2", "kwargs": {"neurons": "low"}}
    assert config["epochs_done"] == 2 and config["train_seconds"] > 0
    assert config["data"]["size"] == 32 and config["parameters"] > 0
    lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert [x["epoch"] for x in lines] == [1, 2]
    assert {"train_loss", "val_loss", "val_seed_accuracy", "val_mse_ab", "seconds"} <= set(lines[0])
    model = polychromify.load_model(run)  # from the folder alone
    L = torch.zeros(1, 1, 32, 32)
    assert model.predict_ab(L).shape == (1, 2, 32, 32)
    for k, v in model.state_dict().items():
        assert torch.equal(v, weights(run)[k])


def test_resume_after_interruption_matches_uninterrupted(tiny_dataset, tmp_path, monkeypatch):
    full = train(cfg(tiny_dataset, tmp_path / "full", epochs=3, patience=0), progress=False)

    calls = {"n": 0}
    real_step = train_mod.Trainer.step

    def crashing_step(self, *args):
        calls["n"] += 1
        if calls["n"] == 5:  # second step of epoch 3
            raise KeyboardInterrupt
        return real_step(self, *args)

    monkeypatch.setattr(train_mod.Trainer, "step", crashing_step)
    with pytest.raises(KeyboardInterrupt):
        train(cfg(tiny_dataset, tmp_path / "cut", epochs=3, patience=0), progress=False)
    monkeypatch.setattr(train_mod.Trainer, "step", real_step)
    saved = json.loads((tmp_path / "cut" / "config.json").read_text())
    assert saved["epochs_done"] == 2  # only the interrupted epoch was lost
    resumed = train(train_mod.resume_config(tmp_path / "cut"), resume=True, progress=False)
    a, b = weights(full), weights(resumed)
    for k in a:
        torch.testing.assert_close(a[k], b[k])
    lines = (resumed / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(x)["epoch"] for x in lines] == [1, 2, 3]


def test_bf16_training_runs_close_to_fp32(tiny_dataset, tmp_path):
    ref = train(cfg(tiny_dataset, tmp_path / "fp32", epochs=2), progress=False)
    run = train(cfg(tiny_dataset, tmp_path / "bf16", epochs=2, precision="bf16"), progress=False)
    assert json.loads((run / "config.json").read_text())["train"]["precision"] == "bf16"
    metrics = [json.loads((r / "metrics.jsonl").read_text().splitlines()[-1]) for r in (ref, run)]
    assert metrics[1]["val_loss"] == pytest.approx(metrics[0]["val_loss"], rel=0.05)


def test_compiled_training_matches_eager(tiny_dataset, tmp_path):
    from polychromify.models.registry import create_model

    eager = weights(train(cfg(tiny_dataset, tmp_path / "eager"), progress=False))
    compiled = weights(train(cfg(tiny_dataset, tmp_path / "compiled", compile=True), progress=False))
    torch.manual_seed(0)
    start = create_model("v2", neurons="low").state_dict()
    assert any((eager[k] - start[k]).abs().max() > 1e-5 for k in eager)  # the two steps changed weights
    for k in eager:
        torch.testing.assert_close(compiled[k], eager[k], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("balance", ["categories", "clusters"])
def test_balanced_sampling(tiny_dataset, tmp_path, balance):
    from polychromify.data.dataset import LabDataset

    ds = LabDataset(tiny_dataset, "train")
    w = ds.balance_weights(balance)
    assert w is not None and abs(w.sum() - 1) < 1e-9
    if balance == "categories":
        cats = [s["category"] for s in ds.samples]
        per_cat = {c: sum(wi for wi, ci in zip(w, cats, strict=True) if ci == c) for c in set(cats)}
        assert all(abs(v - 1 / len(per_cat)) < 1e-9 for v in per_cat.values())  # each category equally likely
    train(cfg(tiny_dataset, tmp_path / balance, balance=balance), progress=False)


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tiny_dataset, tmp_path, monkeypatch):
    run = train(cfg(tiny_dataset, tmp_path / "run", epochs=1), progress=False)
    good = weights(run)
    real = train_mod.compute_loss
    monkeypatch.setattr(train_mod, "compute_loss", lambda *a, **k: real(*a, **k) * float("nan"))
    with pytest.raises(PolychromifyError, match="nan.*last good checkpoint"):
        train(train_mod.resume_config(run, epochs=2), resume=True, progress=False)
    after = weights(run)
    assert all(torch.equal(good[k], after[k]) for k in good)


def test_error_cases(tiny_dataset, tmp_path, capsys):
    run = tmp_path / "run"
    train(cfg(tiny_dataset, run), progress=False)
    cases = [
        (["--model", "v9", "--data", tiny_dataset, "--out", tmp_path / "x"], "unknown model 'v9'"),
        (["--model", "v2", "--data", tmp_path, "--out", tmp_path / "y"], "not a dataset"),
        (["--model", "v2", "--data", tiny_dataset, "--out", run], "already exists"),
        (["--resume", tmp_path / "nothing"], "no such run folder"),
        (["--model", "v2", "--data", tiny_dataset], "--out"),
    ]
    for args, message in cases:
        assert run_cli("train", *args) == 1, args
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and message in err[0], (args, err)
    assert not (tmp_path / "x").exists()


def test_overwrite_refuses_foreign_folders(tiny_dataset, tmp_path):
    foreign = tmp_path / "photos"
    foreign.mkdir()
    (foreign / "keep.jpg").write_bytes(b"precious")
    with pytest.raises(PolychromifyError, match="not a run folder"):
        train(cfg(tiny_dataset, foreign), overwrite=True, progress=False)
    assert (foreign / "keep.jpg").read_bytes() == b"precious"


def test_ddp_two_processes_match_one_process(tiny_dataset, tmp_path):
    # fp32 on both sides: the test compares numbers (bf16's rounding differs between one batch of 8 and two
    # ranks' batches of 4); that ranks agree on auto's arithmetic is test_ranks_train_in_rank0s_arithmetic
    single = train(cfg(tiny_dataset, tmp_path / "single", batch_size=8, precision="fp32"), progress=False)
    torchrun = shutil.which("torchrun", path=os.path.dirname(sys.executable))
    cmd = [
        torchrun,
        "--standalone",
        "--nproc_per_node=2",
        "-m",
        "polychromify",
        "train",
        "--model",
        "v2",
        "--model-arg",
        "neurons=low",
        "--data",
        str(tiny_dataset),
        "--out",
        str(tmp_path / "ddp"),
        "--epochs",
        "1",
        "--batch-size",
        "4",
        "--steps-per-epoch",
        "2",
        "--no-flip",
        "--device",
        "cpu",
        "--tensorboard",
        "--precision",
        "fp32",
    ]
    env = os.environ | {"OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-8000:]  # each rank's own error comes before torchrun's summary
    config = json.loads((tmp_path / "ddp" / "config.json").read_text())
    assert config["world_size"] == 2
    # rank 0 alone says its precision and writes TensorBoard events
    assert sum("polychromify: precision:" in line for line in proc.stderr.splitlines()) == 1
    assert len(list((tmp_path / "ddp" / "tensorboard").glob("events.out.tfevents.*"))) == 1
    a, b = weights(single), weights(tmp_path / "ddp")
    for k in a:
        torch.testing.assert_close(a[k], b[k], atol=1e-5, rtol=1e-4)


def _rank_choice(rank: int, store: str, out: str) -> None:
    import torch.distributed as dist

    from polychromify.precision import Choice, from_rank0

    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=2)
    # as if rank 1 ran on a CPU without native bf16: it resolves otherwise, and follows rank 0
    mine = Choice("bf16", "this CPU has native bf16") if rank == 0 else Choice("fp32", "no native bf16")
    Path(out, f"rank{rank}.json").write_text(json.dumps(from_rank0(mine).__dict__))
    dist.barrier()
    dist.destroy_process_group()


def test_ranks_train_in_rank0s_arithmetic(tmp_path):
    from polychromify.precision import Choice, from_rank0

    assert from_rank0(Choice("fp32", "x")) == Choice("fp32", "x")  # no process group: its own
    torch.multiprocessing.spawn(_rank_choice, args=(str(tmp_path / "store"), str(tmp_path)), nprocs=2)
    said = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert said[0] == said[1] == {"precision": "bf16", "reason": "this CPU has native bf16", "warning": None}


def test_dataset_batch_gathers_in_order_and_flips(tiny_dataset):
    from polychromify.color import normalize_l
    from polychromify.data.dataset import LabDataset

    ds = LabDataset(tiny_dataset, "train")
    idx = np.array([3, 0, 2])
    L, ab = ds.batch(idx)
    assert L.dtype == ab.dtype == torch.float32 and L.shape == (3, 1, ds.size, ds.size)
    for j, i in enumerate(idx):  # the memory-mapped float16 shards, in the order asked
        np.testing.assert_array_equal(L[j].numpy(), normalize_l(ds._L[0][i].astype(np.float32)))
        np.testing.assert_array_equal(ab[j].numpy(), ds._ab[0][i].astype(np.float32))
    Lf, abf = ds.batch(idx, np.array([False, True, False]))
    assert torch.equal(Lf[1], L[1].flip(-1)) and torch.equal(abf[1], ab[1].flip(-1))
    assert torch.equal(Lf[[0, 2]], L[[0, 2]]) and torch.equal(abf[[0, 2]], ab[[0, 2]])


def test_cosine_schedule_and_keeping_the_last_epoch(tiny_dataset, tmp_path):
    from polychromify.checkpoint import load_model
    from polychromify.train import lr_factor

    assert lr_factor("cosine", 0.0) == 1.0 and lr_factor("cosine", 1.0) == 0.0
    assert lr_factor("cosine", 0.5) == pytest.approx(0.5) and lr_factor("constant", 0.9) == 1.0
    cfg = TrainConfig(
        model="cnn",
        data=str(tiny_dataset),
        out=str(tmp_path / "run"),
        epochs=3,
        batch_size=4,
        steps_per_epoch=2,
        schedule="cosine",
        keep="last",
        patience=0,
    )
    trainer = Trainer(cfg, torch.device("cpu"), 0, 1, False, False, False)
    trainer.fit()
    lr = trainer.opt.param_groups[0]["lr"]
    assert 0 < lr < 0.3 * cfg.lr  # the last step of 6 is near the end of the decay
    last = {k: v for k, v in trainer.model.state_dict().items()}
    kept = load_model(tmp_path / "run").state_dict()
    assert all(torch.equal(kept[k], last[k].cpu()) for k in kept)
    with pytest.raises(PolychromifyError, match="keep"):
        TrainConfig(model="cnn", data="d", out="o", keep="worst")


def test_tensorboard_events_hold_the_curves_metrics_and_picture(tiny_dataset, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run = train(cfg(tiny_dataset, tmp_path / "tb", model="unet", model_args={}, epochs=2, tensorboard=True))
    events = EventAccumulator(str(run / "tensorboard"), size_guidance={"images": 0})
    events.Reload()
    scalars = set(events.Tags()["scalars"])
    want = {"loss/train", "loss/val", "lr", "images_per_s"}
    assert want | {"val/auc_rebalanced", "val/delta_cf", "val/hue_accuracy"} <= scalars
    assert [e.step for e in events.Scalars("loss/val")] == [1, 2]
    record = json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])
    assert events.Scalars("loss/val")[-1].value == pytest.approx(record["val_loss"], rel=1e-5)
    (picture,) = events.Tags()["images"]
    last = events.Images(picture)[-1]
    assert last.step == 2 and last.width == 3 * 32 and last.height == 4 * 32  # input | output | truth, 4 rows
    assert json.loads((run / "config.json").read_text())["train"]["tensorboard"] is True


def test_training_on_some_of_the_photos(tiny_dataset, tmp_path):
    from polychromify.data.dataset import LabDataset

    ds = LabDataset(tiny_dataset, "train")
    pool = ds.photo_subset(2, seed=3)
    sources = {ds.samples[i]["source"] for i in pool}
    assert len(sources) == 2 and len(pool) == sum(
        s["source"] in sources for s in ds.samples
    )  # all their crops
    np.testing.assert_array_equal(pool, ds.photo_subset(2, seed=3))  # seeded
    w = ds.balance_weights("categories", idx=pool)
    assert len(w) == len(pool) and abs(w.sum() - 1) < 1e-9
    trainer = Trainer(
        cfg(tiny_dataset, tmp_path / "t", train_photos=2), torch.device("cpu"), 0, 1, False, False, False
    )
    order = trainer._epoch_order()
    assert len({ds.samples[i]["source"] for i in order}) == 2 and set(order) == set(trainer.pool.tolist())
    run = train(cfg(tiny_dataset, tmp_path / "few", train_photos=2), progress=False)
    assert json.loads((run / "config.json").read_text())["train"]["train_photos"] == 2
    with pytest.raises(PolychromifyError, match="--train-photos must be 1.."):
        train(cfg(tiny_dataset, tmp_path / "many", train_photos=10_000), progress=False)
    assert not (tmp_path / "many").exists()  # the data is checked before the run folder is claimed


def test_distill_loss_is_zero_for_the_teachers_own_colours_and_pulls_towards_them():
    from polychromify.losses import distill_loss

    teacher = torch.randn(2, 5, 3, 3)
    assert distill_loss(teacher, teacher).item() == pytest.approx(0, abs=1e-6)
    student = torch.zeros_like(teacher, requires_grad=True)
    start = distill_loss(student, teacher).item()
    opt = torch.optim.SGD([student], lr=5.0)
    for _ in range(20):
        opt.zero_grad()
        distill_loss(student, teacher).backward()
        opt.step()
    assert start > 0.1 and distill_loss(student, teacher).item() < 0.2 * start


def test_a_teacher_adds_its_term_and_keeps_a_damaged_print_near_its_clean_colours(tiny_dataset, tmp_path):
    from polychromify.checkpoint import load_model
    from polychromify.data.dataset import LabDataset
    from polychromify.losses import distill_loss
    from polychromify.models.registry import ColorModel

    teacher = train(cfg(tiny_dataset, tmp_path / "teacher", model="unet", model_args={}), progress=False)
    L, ab = LabDataset(tiny_dataset, "train").batch(np.arange(4))

    def first_loss(**kw) -> float:  # the teacher's network, the same batch: only the terms differ
        trainer = Trainer(
            cfg(tiny_dataset, tmp_path / "s", model="unet", model_args={}, init=str(teacher), **kw),
            torch.device("cpu"),
            0,
            1,
            False,
            True,
            False,
        )
        return trainer.step(L, ab, None, L)

    truth, teacher_only = first_loss(), first_loss(teacher=str(teacher), distill=1.0)
    assert 0 <= teacher_only < 0.1 * truth  # it starts as the teacher: little to learn from it
    assert first_loss(teacher=str(teacher), distill=0.5) == pytest.approx(
        0.5 * (truth + teacher_only), rel=1e-4
    )

    def drift(**kw) -> float:  # after training on damaged inputs: how far its colours of a damaged batch
        # are from the teacher's colours of the clean batch
        run = train(
            cfg(
                tiny_dataset,
                tmp_path / "d",
                model="unet",
                model_args={},
                init=str(teacher),
                degrade=1.0,
                steps_per_epoch=6,
                lr=3e-3,
                **kw,
            ),
            overwrite=True,
            progress=False,
        )
        from polychromify.data.degrade import degrade_batch

        damaged = degrade_batch(L, np.random.default_rng(5), 1.0)
        student, clean = load_model(run), load_model(teacher)
        with torch.no_grad():
            out = student(ColorModel.make_input(damaged, None, student.takes_hints))
            target = clean(ColorModel.make_input(L, None, clean.takes_hints))
        return distill_loss(out, target).item()

    assert drift(teacher=str(teacher), distill=1.0) < 0.5 * drift()
    regression = train(cfg(tiny_dataset, tmp_path / "v2"), progress=False)
    kept = {p.name for p in regression.iterdir()}
    with pytest.raises(PolychromifyError, match="bin model"):  # refused before the run folder is touched
        train(
            cfg(tiny_dataset, regression, model="unet", model_args={}, teacher=str(regression)),
            overwrite=True,
        )
    assert {p.name for p in regression.iterdir()} == kept
