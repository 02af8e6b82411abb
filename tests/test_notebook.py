"""The example notebook runs, top to bottom, in a real Jupyter kernel (nbclient), with a
short run, so that it cannot rot: diagrams inline, progress in place, curves side by
side, the greedy scores."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="the dev extra: pip install -e '.[dev]'")
nbclient = pytest.importorskip("nbclient", reason="the dev extra: pip install -e '.[dev]'")

REPO = Path(__file__).resolve().parent.parent
NOTEBOOK = REPO / "examples" / "notebooks" / "target_network.ipynb"


def outputs(cell) -> list[dict]:
    return [dict(o) for o in cell.get("outputs", [])]


def text_of(cell) -> str:
    parts = []
    for out in outputs(cell):
        parts.append(out.get("text", ""))
        parts.append(out.get("data", {}).get("text/plain", ""))
    return "".join(parts)


def test_the_notebook_runs_and_shows_diagrams_progress_curves_and_scores(tmp_path,
                                                                          monkeypatch):
    # the kernel inherits this environment: a short run, graphs from the repository,
    # runs/ in a temporary folder, this checkout importable as rlgraph
    monkeypatch.setenv("RLGRAPH_NOTEBOOK_STEPS", "600")
    monkeypatch.setenv("RLGRAPH_GRAPHS", str(REPO / "graphs"))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])]))
    shutil.copy(NOTEBOOK, tmp_path / NOTEBOOK.name)
    nb = nbformat.read(tmp_path / NOTEBOOK.name, as_version=4)
    nbclient.NotebookClient(nb, timeout=180, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    cells = [c for c in nb.cells if c.cell_type == "code"]
    assert not [o for c in cells for o in outputs(c) if o["output_type"] == "error"]
    # the two diagrams, inline SVG, the second with the loss reading qnet
    svgs = [o["data"]["image/svg+xml"] for c in cells[1:3] for o in outputs(c)
            if "image/svg+xml" in o.get("data", {})]
    assert len(svgs) == 2 and "TargetNetwork" in svgs[0] and "TargetNetwork" not in svgs[1]
    # learning: the progress line, updated in place to the end, for each agent
    learned = text_of(cells[3])
    assert learned.count("600/600 100%") == 2
    assert "dqn_target: 600 ticks" in learned and "dqn: 600 ticks" in learned
    runs = sorted(p.name.rsplit("-", 2)[0] for p in (tmp_path / "runs").iterdir())
    assert runs == ["dqn", "dqn_target"]
    # the curves: one picture
    assert sum("image/png" in o.get("data", {}) for o in outputs(cells[4])) == 1
    scores = text_of(cells[5])
    assert "dqn_target  greedy return" in scores and "dqn         greedy return" in scores
    assert re.search(r"action for a pole leaning right: [01]\n", scores)
