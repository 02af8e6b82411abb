"""What rlgraph's commands cost before any work: wall time of fresh processes.

    python tools/bench_startup.py [--repeats 5] [--base /path/to/other/checkout]

Each case runs in a new Python process (so every import is paid), `repeats` times; the
median wall time is printed, for this checkout and, with --base, for another one (the
same cases on its code: a before/after table). Cases: `import torch` and
`import gymnasium` alone (the floor), the first Adam built plainly and inside
rlgraph.nodes.speedups.no_dynamo_import, `rlgraph validate graphs/dqn_target.yaml`,
a 10-tick `rlgraph run graphs/dqn_notebook.yaml`, and `rlgraph eval` of a run folder.
Where the time goes inside one process: `python -X importtime -m rlgraph.cli ...` and
`python -m cProfile -s cumulative -m rlgraph.cli ...`.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

FIRST_ADAM = """
import time, torch
t = time.perf_counter()
{context}
    torch.optim.Adam(torch.nn.Linear(4, 2).parameters(), fused=True)
print(time.perf_counter() - t)
"""


def cases(tmp: Path) -> dict[str, list[str]]:
    py, cli = [sys.executable, "-c"], [sys.executable, "-m", "rlgraph.cli"]
    return {
        "import torch, gymnasium": [*py, "import torch, gymnasium"],
        "validate dqn_target": [*cli, "validate", str(ROOT / "graphs" / "dqn_target.yaml")],
        "run dqn_notebook, 10 ticks": [*cli, "run", str(ROOT / "graphs" / "dqn_notebook.yaml"),
                                       "--steps", "10", "--quiet", "--out", "{out}"],
        "eval, 1 episode": [*cli, "eval", str(tmp / "trained"), "--episodes", "1"],
    }


def first_adam(code_path: Path, plain: bool) -> float:
    """Seconds to build the first Adam in a fresh process (the import of torch not
    counted)."""
    context = "if True:" if plain else \
        "from rlgraph.nodes.speedups import no_dynamo_import\nwith no_dynamo_import():"
    out = subprocess.run([sys.executable, "-c", FIRST_ADAM.format(context=context)],
                         env=dict(os.environ, PYTHONPATH=str(code_path)), check=True,
                         capture_output=True, text=True)
    return float(out.stdout.strip())


def wall(command: list[str], code_path: Path, tmp: Path, i: int) -> float:
    command = [c.replace("{out}", str(tmp / f"run-{code_path.name}-{i}")) for c in command]
    start = time.perf_counter()
    subprocess.run(command, env=dict(os.environ, PYTHONPATH=str(code_path)), check=True,
                   capture_output=True, cwd=tmp)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--base", type=Path, help="another checkout to compare with")
    args = parser.parse_args()
    checkouts = {"this": ROOT, **({"base": args.base.resolve()} if args.base else {})}
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        subprocess.run([sys.executable, "-m", "rlgraph.cli", "run",
                        str(ROOT / "graphs" / "dqn_target.yaml"), "--steps", "20", "--quiet",
                        "--no-tensorboard", "--out", str(tmp / "trained")], check=True,
                       env=dict(os.environ, PYTHONPATH=str(ROOT)), capture_output=True)
        print(f"median wall time of {args.repeats} fresh processes, seconds "
              f"(load average {os.getloadavg()[0]:.1f})")
        print("| case | " + " | ".join(checkouts) + " |")
        print("| --- |" + " --- |" * len(checkouts))
        runs = 0
        for name, command in cases(tmp).items():
            times = []
            for path in checkouts.values():
                samples = []
                for _ in range(args.repeats):
                    runs += 1
                    samples.append(wall(command, path, tmp, runs))
                times.append(statistics.median(samples))
            print(f"| {name} | " + " | ".join(f"{t:.2f}" for t in times) + " |")
        plain = statistics.median(first_adam(ROOT, True) for _ in range(args.repeats))
        lean = statistics.median(first_adam(ROOT, False) for _ in range(args.repeats))
        print(f"| first Adam built: plain / in no_dynamo_import | {plain:.2f} / {lean:.2f} |")


if __name__ == "__main__":
    main()
