"""Regenerate the README's agent diagrams in docs/images/ from the shipped graphs.

    python tools/render_images.py                 # docs/images/dqn_target.png,
                                                  # dqn_target_ray.png (4 workers),
                                                  # ppo_cartpole.png, sac_pendulum.png
    python tools/render_images.py graphs/dqn.yaml # docs/images/dqn.png

Each image is drawn exactly as `rlgraph render GRAPH -o docs/images/NAME.png` would;
a graph with errors is refused, so the README never shows a red diagram.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rlgraph.core import REGISTRY
from rlgraph.core.build import check_file
from rlgraph.render import DotNotFound, render_checked

ROOT = Path(__file__).resolve().parents[1]
IMAGES = ROOT / "docs" / "images"
DEFAULT_GRAPHS = [ROOT / "graphs" / name for name in
                  ("dqn_target.yaml", "ppo_cartpole.yaml", "sac_pendulum.yaml")]
#: drawn too by default: (graph, --set overrides, image name)
VARIANTS: list[tuple[Path, list[str], str | None]] = [
    (ROOT / "graphs" / "dqn_target.yaml", ["placement.workers=4"], "dqn_target_ray")]


def render_image(graph: Path, images: Path = IMAGES, overrides: list[str] | None = None,
                 name: str | None = None) -> Path:
    """Draw one valid graph (with `overrides`) to images/<name or file stem>.png; raise
    SystemExit if it has errors."""
    checked, errors = check_file(graph, REGISTRY, overrides or [])
    if checked is None or errors:
        for error in errors:
            print(error.format(), file=sys.stderr)
        raise SystemExit(f"{graph}: not drawn, fix its errors first")
    return render_checked(checked, images / f"{name or graph.stem}.png")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("graphs", nargs="*", type=Path, default=DEFAULT_GRAPHS,
                        metavar="GRAPH", help="graph files (default: graphs/dqn_target.yaml)")
    parser.add_argument("--out", type=Path, default=IMAGES, help="folder for the PNGs")
    args = parser.parse_args(argv)
    jobs: list[tuple[Path, list[str], str | None]] = [(g, [], None) for g in args.graphs]
    if args.graphs == DEFAULT_GRAPHS:
        jobs += VARIANTS
    for graph, overrides, name in jobs:
        try:
            path = render_image(graph, args.out, overrides, name)
        except DotNotFound as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
