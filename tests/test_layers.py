"""The package's floors (docs/architecture.md): a module imports from its own floor or below, never above;
no import circle, counting the imports written inside functions; and a library module imports the
package's own modules at its top, where a reader sees them (the command line's lazy imports excepted)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

FLOORS = {
    0: "version errors runtime precision config arguments data web",  # no torch: the command line's start
    1: "color data.images data.hints data.degrade metrics spread flow",  # colour, pixels, damage, motion
    # networks and their decoding over ab bins (the reference's prior swap; keyframes take it), losses
    2: "reference keyframes models.registry models.autoencoders models.unet models.mobilenet models.zhang "
    "models.blend models.cleaner models losses",
    3: "checkpoint export data.prepare data.dataset",  # run folders, ONNX graphs, datasets
    4: "inference",  # the Colorizer: a network (torch or onnxruntime) + full-resolution recombination
    5: "photos video evaluate report board train study",  # the jobs
    6: "web.app web.middleware web.serve cli __main__ __init__",  # the ways in
}
FLOOR = {f"polychromify.{m}": n for n, names in FLOORS.items() for m in names.split()}
FLOOR["polychromify"] = FLOOR.pop("polychromify.__init__")
# Imported inside functions so that `polychromify --help` (and `import polychromify`) does not load torch.
LAZY_FOR_START_UP = {"polychromify", "polychromify.cli"}


def _modules() -> dict[str, Path]:
    out = {}
    for path in (SRC / "polychromify").rglob("*.py"):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        out[".".join(parts[:-1] if parts[-1] == "__init__" and len(parts) > 1 else parts)] = path
    return out


def _imports(path: Path, modules: dict[str, Path]) -> list[tuple[str, bool]]:
    """(imported package module, whether at the module's top level) for every import in the file."""
    tree = ast.parse(path.read_text())
    top = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("polychromify"):
            names = [f"{node.module}.{a.name}" for a in node.names] + [node.module]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        for name in names:
            if name in modules:  # `from polychromify.models import zhang` names the module zhang
                found.append((name, id(node) in top))
                break
    return found


MODULES = _modules()
GRAPH = {m: _imports(p, MODULES) for m, p in MODULES.items()}


def test_every_module_has_a_floor():
    assert set(MODULES) == set(FLOOR), "place new modules on a floor here and in docs/architecture.md"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_go_down(module):
    up = [t for t, _ in GRAPH[module] if FLOOR[t] > FLOOR[module]]
    assert not up, f"{module} (floor {FLOOR[module]}) imports from above: {up}"
    hidden = [t for t, at_top in GRAPH[module] if not at_top and t != module]
    assert module in LAZY_FOR_START_UP or not hidden, f"{module} imports inside a function: {hidden}"


def test_no_import_circle():
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> None:
        if module in path:
            pytest.fail("import circle: " + " -> ".join([*path[path.index(module) :], module]))
        if module not in done:
            for target, _ in GRAPH[module]:
                if target != module:
                    visit(target, [*path, module])
            done.add(module)

    for module in sorted(MODULES):
        visit(module, [])


def test_every_module_imports_and_the_command_line_starts_without_torch():
    code = (
        "import importlib, sys\n"
        "import polychromify.cli\n"
        "assert 'torch' not in sys.modules, 'the command line loads torch at start'\n"
        f"for m in {sorted(set(MODULES) - {'polychromify.__main__'})!r}:  # __main__ runs the command\n"
        "    importlib.import_module(m)\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
