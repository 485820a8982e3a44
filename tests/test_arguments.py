"""The command line derived from the configs: every option is a config field and back, defaults and help
come from the field, nested configs keep their own defaults, and values given are known as given."""

from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass
from pathlib import Path

import pytest

from polychromify import config as c
from polychromify.arguments import add_options, read_options
from polychromify.cli import COMMANDS, build_parser
from polychromify.errors import PolychromifyError
from tests.conftest import run_cli


def _parse(*argv: str):
    parsed = build_parser().parse_args(list(argv))
    return read_options(parsed._command.job, parsed)


def _cli_fields(job) -> dict[str, dataclasses.Field]:
    out = {}
    for f in dataclasses.fields(job):
        if f.metadata.get("nested"):
            out |= _cli_fields(getattr(job, f.name))
        elif "cli" in f.metadata:
            out[f.name] = f
    return out


@pytest.mark.parametrize("command", COMMANDS, ids=lambda cmd: cmd.name)
def test_each_option_is_one_field_and_each_field_one_option(command):
    parser = argparse.ArgumentParser()
    add_options(parser, command.job())
    dests = [a.dest for a in parser._actions if a.dest != "help"]
    assert sorted(dests) == sorted(_cli_fields(command.job())), command.name
    assert len(dests) == len(set(dests))  # a nested config's names do not clash with the job's


def test_not_given_is_the_config_default_and_given_is_converted():
    job = _parse("colorize", "a.png", "b", "-o", "out")
    assert job == c.ColorizeJob(inputs=["a.png", "b"], out=Path("out"))
    job = _parse(
        "prepare", "photos", "-o", "ds", "--split", "0.5,0.25,0.25", "--exclude", "x*", "--exclude", "y"
    )
    assert job.settings == c.PrepareConfig(split=(0.5, 0.25, 0.25), exclude=("x*", "y"))
    assert _parse("train", "--model-arg", "width=0.25", "--model-arg", "neurons=high").run.model_args == {
        "width": 0.25,
        "neurons": "high",
    }
    assert _parse("train", "--no-flip", "--rebalance-lambda", "1").run.flip is False


def test_a_nested_config_keeps_its_own_defaults_and_help():
    assert _parse("video", "in.mp4", "-o", "out.mp4").colour.mirror is False  # films: off
    assert _parse("video", "in.mp4", "-o", "out.mp4", "--mirror").colour.mirror is True
    assert _parse("colorize", "a.png", "-o", "out").colour.mirror is True
    helps = {cmd.name: build_parser()._subparsers._group_actions[0].choices[cmd.name] for cmd in COMMANDS}
    assert "(default: off)" in " ".join(helps["video"].format_help().split())
    assert "(default: on)" in " ".join(helps["colorize"].format_help().split())
    assert "(default: 0.75)" in " ".join(helps["colorize"].format_help().split())


def test_options_given_are_known_so_a_resume_takes_only_those():
    job = _parse("train", "--resume", "run", "--epochs", "25")  # 25 is also the default: still given
    assert job.resume == "run" and "epochs" in job.given and "device" not in job.given


def test_bad_values_exit_1_or_2_with_one_line(capsys):
    assert run_cli("train", "--model", "cnn", "--data", "d", "-o", "r", "--model-arg", "oops") == 1
    assert "--model-arg expects KEY=VALUE, got 'oops'" in capsys.readouterr().err
    assert run_cli("prepare", "photos", "-o", "ds", "--split", "1,2") == 1
    assert "invalid split '1,2'" in capsys.readouterr().err
    assert run_cli("train", "--model", "cnn") == 1
    assert "train needs --data, --out (or --resume RUN)" in capsys.readouterr().err
    assert run_cli("train", "--degrade", "2") == 2  # refused by the parser
    assert "must be between 0 and 1" in capsys.readouterr().err


@dataclass(frozen=True)
class Inner:
    level: int = c.opt(3, "how much (default: {default})")


@dataclass(frozen=True)
class Job:  # a newcomer's new command: its fields are its options
    name: str = c.opt("x", "a name", positional=True)
    inner: Inner = c.nested(lambda: Inner(level=5))
    fast: bool = c.opt(False, "go fast")
    tags: tuple[str, ...] = c.repeatable("a tag", "TAG", factory=tuple, convert=tuple)
    library_only: int = 7


def test_a_new_field_is_a_new_option():
    parser = argparse.ArgumentParser()
    add_options(parser, Job())
    assert "how much (default: 5)" in parser.format_help()
    assert "library_only" not in parser.format_help()
    job = read_options(Job, parser.parse_args(["n", "--level", "9", "--fast", "--tags", "a", "--tags", "b"]))
    assert job == Job("n", Inner(9), True, ("a", "b"))
    assert read_options(Job, parser.parse_args(["n"])) == Job("n")
    with pytest.raises(SystemExit):
        parser.parse_args(["n", "--level", "many"])  # the field's type, checked by the parser


def test_the_config_checks_its_values():
    with pytest.raises(PolychromifyError, match="invalid size"):
        _parse("prepare", "photos", "-o", "ds", "--size", "4")
    from polychromify.train import train

    with pytest.raises(PolychromifyError, match="TrainConfig needs data, out"):
        train(c.TrainConfig(model="cnn"))  # the Python API's own message
