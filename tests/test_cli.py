"""The command line's front door: the top level's --help and each command's name its guide, a page of the
source tree that exists, and asking for help loads no torch."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from polychromify.cli import COMMANDS, GUIDE
from tests.conftest import REPO, run_cli

GUIDE_LINE = re.compile(r"^Guide: (\S+) \(in the source tree\)$", re.MULTILINE)


def _guide_named(capsys, *argv: str) -> str:
    assert run_cli(*argv, "--help") == 0
    named = GUIDE_LINE.findall(capsys.readouterr().out)
    assert len(named) == 1, f"`polychromify {' '.join(argv)} --help` names no guide (or several): {named}"
    return named[0]


@pytest.fixture(autouse=True)
def _wide_terminal(monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")  # argparse wraps to the terminal: one width for every run


def test_the_top_level_help_names_the_readme(capsys):
    assert _guide_named(capsys) == GUIDE == "README.md"
    assert (REPO / GUIDE).is_file()


@pytest.mark.parametrize("command", COMMANDS, ids=lambda cmd: cmd.name)
def test_each_commands_help_names_its_guide_and_the_guide_exists(command, capsys):
    guide = _guide_named(capsys, command.name)
    assert guide == command.guide
    assert guide.startswith("docs/") and guide.endswith(".md")
    assert (REPO / guide).is_file(), f"`{command.name} --help` names {guide}, which is not in the repo"


def test_asking_for_help_loads_no_torch():
    code = (
        "import sys\n"
        "from polychromify.cli import COMMANDS, main\n"
        "for argv in [['--help'], *([cmd.name, '--help'] for cmd in COMMANDS)]:\n"
        "    try:\n"
        "        main(argv)\n"
        "    except SystemExit as stop:\n"
        "        assert stop.code == 0, argv\n"
        "assert 'torch' not in sys.modules, 'a --help loads torch'\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert run.returncode == 0, run.stderr[-2000:]
