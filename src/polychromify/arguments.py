"""The command line derived from the configs (config.py): each field made with `config.opt` becomes an
argparse option, and a parsed command line becomes the config object again.

argparse rather than a library that derives options from types (Typer, tyro, jsonargparse): it keeps the
help texts, the error messages and exit codes as they were, and loads nothing at start-up.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import typing
from pathlib import Path
from typing import Any

SCALARS = (int, float, str, Path)


def add_options(parser: argparse.ArgumentParser, job: Any) -> None:
    """An option (or positional argument) on `parser` for each command-line field of the config `job` (an
    instance: its values are the defaults shown), nested configs' fields in their place."""
    hints = typing.get_type_hints(type(job))
    for f in dataclasses.fields(job):
        value = getattr(job, f.name)
        if f.metadata.get("nested"):
            add_options(parser, value)
        elif "cli" in f.metadata:
            parser.add_argument(*_flags(f), **_keywords(f, hints[f.name], value))


def read_options(job_type: type, parsed: argparse.Namespace) -> Any:
    """The config of type `job_type` that a command line parsed by `add_options` stands for: its defaults,
    with what was given on the command line (`convert`ed). A config with a `given` field learns which
    options were given."""
    given = {k: v for k, v in vars(parsed).items() if not k.startswith("_")}
    job = _read(job_type(), given)
    if any(f.name == "given" for f in dataclasses.fields(job)):
        job = dataclasses.replace(job, given=frozenset(given))
    return job


def _read(job: Any, given: dict[str, Any]) -> Any:
    changes = {}
    for f in dataclasses.fields(job):
        if f.metadata.get("nested"):
            changes[f.name] = _read(getattr(job, f.name), given)
        elif "cli" in f.metadata and f.name in given:
            convert = f.metadata["convert"]
            changes[f.name] = convert(given[f.name]) if convert else given[f.name]
    return dataclasses.replace(job, **changes)  # runs the config's own checks (__post_init__)


def _flags(f: dataclasses.Field) -> tuple[str, ...]:
    if f.metadata["positional"]:
        return (f.name,)
    return f.metadata["flags"] or ("--" + f.name.replace("_", "-"),)


def _keywords(f: dataclasses.Field, hint: Any, default: Any) -> dict[str, Any]:
    kw = {"default": argparse.SUPPRESS} | f.metadata["cli"]  # not given: the config's own default
    if f.metadata["help"] is not None:
        kw["help"] = _help(f.metadata["help"], default)
    if hint is bool and "action" not in kw:
        kw["action"] = "store_true"
    takes_value = kw.get("action") not in ("store_true", "store_false", argparse.BooleanOptionalAction)
    scalar = next((t for t in (hint, *typing.get_args(hint)) if t in SCALARS), None)
    if takes_value and "type" not in kw and scalar is not None and not f.metadata["convert"]:
        kw["type"] = scalar
    if not f.metadata["positional"]:
        kw["dest"] = f.name
        if takes_value and not {"metavar", "choices"} & kw.keys():  # as argparse names it, by the long flag
            kw["metavar"] = next(x for x in _flags(f) if x.startswith("--"))[2:].replace("-", "_").upper()
    return kw


def _help(text: str, default: Any) -> str:
    """`{default}` (or `{default:SPEC}`) in a help text -> the default; on/off for a switch."""
    shown = ("on" if default else "off") if isinstance(default, bool) else default
    return re.sub(r"\{default(?::([^}]*))?\}", lambda m: format(shown, m[1] or ""), text)
