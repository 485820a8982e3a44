"""The one exception type the CLI turns into a one-line message and a non-zero exit, and the check of an
output file's place that raises it before any work."""

import os
from pathlib import Path


class PolychromifyError(Exception):
    """A problem the user can fix (bad path, bad file, bad option); shown without a traceback."""


def check_output_file(path: Path) -> None:
    """One clear line, before any work, for an output file that could not be written."""
    if path.is_dir():
        raise PolychromifyError(f"cannot write {path}: it is a folder")
    if not path.parent.is_dir() or not os.access(path.parent, os.W_OK):
        raise PolychromifyError(f"cannot write {path}: its folder does not exist or is not writable")
