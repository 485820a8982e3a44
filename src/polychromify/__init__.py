"""Polychromify: colorize black-and-white landscape photographs and films."""

from __future__ import annotations

from typing import Any

from polychromify.runtime import set_thread_budget
from polychromify.version import __version__

set_thread_budget()  # before torch loads its pool: threads that sleep when idle, as many as usable cores

__all__ = [
    "Colorizer",
    "Reference",
    "__version__",
    "colorize",
    "create_model",
    "list_models",
    "load_model",
]


def __getattr__(name: str) -> Any:
    # Lazy: `import polychromify` (and the CLI's start-up) stays fast; torch loads on first use.
    if name == "load_model":
        from polychromify.checkpoint import load_model

        return load_model
    if name in ("colorize", "Colorizer", "Reference"):
        from polychromify import inference

        return getattr(inference, name)
    if name in ("create_model", "list_models"):
        from polychromify.models import registry

        return getattr(registry, name)
    raise AttributeError(f"module 'polychromify' has no attribute {name!r}")
