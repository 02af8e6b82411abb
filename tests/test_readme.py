"""The README's Python example runs as written (in a scratch folder that has the
repository's graphs/), and does what its comments say."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def readme_example(heading: str) -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_the_python_api_example_runs_as_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "graphs").symlink_to(REPO / "graphs")
    names: dict = {}
    exec(compile(readme_example("From Python and Jupyter"), "README.md", "exec"), names)
    agent = names["agent"]
    assert agent.graph.tick == 3000 and agent.graph.nodes["loss"].gamma == 0.98
    assert agent.run_dir == Path("models/dqn_target")
    [run] = (tmp_path / "runs").iterdir()
    assert run.name.startswith("dqn_target-") and (run / "metrics.csv").is_file()
    assert names["action"] in (0, 1) and len(names["returns"]) == 5
    assert names["qnet"] is agent.graph.value("qnet.module")
    assert (tmp_path / "dqn_target.svg").read_text().lstrip().startswith("<?xml")
