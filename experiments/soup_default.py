"""The default's two networks as one by averaging their weights (a model soup, Wortsman et al. 2022), wrapped
as the default is (its cleaner, the confidence scaling); prints how far apart the two networks are.

    .venv/bin/python experiments/soup_default.py OUT
    .venv/bin/polychromify evaluate default OUT/soup --images HELDOUT --json

Written up in docs/plates.md ("One network distilled from the default's two"): worse than the default.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from safetensors.torch import load_file, save_file

from polychromify.checkpoint import ASSETS, resolve_model, save_blend


def main() -> None:
    out = Path(sys.argv[1])
    a, b = (load_file(ASSETS / name / "model.safetensors") for name in ("clean", "old-prints"))
    floats = [k for k in a if a[k].is_floating_point()]
    soup = {k: ((a[k].float() + b[k].float()) / 2).to(a[k].dtype) if k in floats else a[k] for k in a}
    network = out / "network"
    network.mkdir(parents=True, exist_ok=True)
    save_file(soup, network / "model.safetensors")
    (network / "config.json").write_text((ASSETS / "clean" / "config.json").read_text())
    save_blend(out / "soup", [str(network)], [1.0], cleaner=resolve_model("default").cleaner, neutral=True)
    apart = sum(float(((a[k].float() - b[k].float()) ** 2).sum()) for k in floats)
    size = sum(float((a[k].float() ** 2).sum()) for k in floats)
    print(json.dumps({"relative_distance": round((apart / size) ** 0.5, 3), "soup": str(out / "soup")}))


if __name__ == "__main__":
    main()
