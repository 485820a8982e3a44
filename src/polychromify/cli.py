"""The `polychromify` command: each sub-command parses its options and calls library code."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from polychromify.errors import PolychromifyError


def cmd_prepare(a: argparse.Namespace) -> int:
    from polychromify.data.prepare import PrepareConfig, parse_split, prepare

    cfg = PrepareConfig(
        size=a.size,
        resize=a.resize,
        crops_per_image=a.crops_per_image,
        split=parse_split(a.split),
        seed=a.seed,
        min_chroma=a.min_chroma,
        workers=a.workers,
    )
    m = prepare(a.src, a.out, cfg, overwrite=a.overwrite)
    if m.get("reused"):
        print(f"{a.out} is up to date (same photos and settings); nothing to do")
        return 0
    c, p = m["counts"], m["photos"]
    print(f"prepared {sum(c.values())} samples from {sum(p.values())} photos -> {a.out}")
    print("  " + ", ".join(f"{s}: {c[s]} samples / {p[s]} photos" for s in c))
    if m["skipped"]:
        print(f"  skipped {len(m['skipped'])} files (all listed in {Path(a.out) / 'manifest.json'}):")
        for s in m["skipped"][:10]:
            print(f"    {s['file']}: {s['reason']}")
        if len(m["skipped"]) > 10:
            print(f"    ... and {len(m['skipped']) - 10} more")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="polychromify", description="Colorize black-and-white landscape photos and films."
    )
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "prepare",
        help="photos (folder or zip) -> Lab training data",
        description="Turn a folder or zip of colour photos into the study's training data: "
        "square Lab samples, split 64/16/20 per photo.",
    )
    p.add_argument("src", type=Path, help="folder (searched recursively) or .zip of photos")
    p.add_argument("--out", "-o", type=Path, required=True, help="dataset folder to create")
    p.add_argument(
        "--size", type=int, default=128, help="side of the square samples (default: 128, the seed)"
    )
    p.add_argument(
        "--resize",
        choices=["stretch", "crop"],
        default="stretch",
        help="stretch: plain resize to a square, as the seed (default); crop: centre crop",
    )
    p.add_argument(
        "--crops-per-image",
        type=int,
        default=0,
        metavar="K",
        help="K extra random crops at random scales per photo, besides the whole photo (default: 0)",
    )
    p.add_argument(
        "--split", default="0.64,0.16,0.20", help="train,val,test fractions (default: 0.64,0.16,0.20)"
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the split and the crops (default: 0)")
    p.add_argument(
        "--min-chroma",
        type=float,
        default=2.0,
        help="skip photos whose mean CIELAB chroma is below this: grey photos (default: 2)",
    )
    p.add_argument("--workers", type=int, default=0, help="worker processes (default: 0 = all cores)")
    p.add_argument("--overwrite", action="store_true", help="replace a previous dataset in --out")
    p.set_defaults(func=cmd_prepare)
    return parser


def _version() -> str:
    from polychromify import __version__

    return f"polychromify {__version__}"


def _print_json(obj: object) -> None:
    print(json.dumps(obj, indent=1))


def main(argv: list[str] | None = None) -> None:
    """Entry point: user errors become one line on stderr and exit code 1; Ctrl-C exits 130."""
    args = build_parser().parse_args(argv)
    try:
        code = args.func(args)
    except PolychromifyError as exc:
        print(f"polychromify: error: {exc}", file=sys.stderr)
        code = 1
    except KeyboardInterrupt:
        print("polychromify: interrupted", file=sys.stderr)
        code = 130
    sys.exit(code)
