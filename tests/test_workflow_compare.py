"""`rlgraph compare` and `rlgraph plot`: runs over seeds, one band per graph."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from workflow_nodes import small_dqn

from rlgraph.cli import main
from rlgraph.workflow.plots import Curve, bands, read_curve, resample

PNG = b"\x89PNG\r\n\x1a\n"


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_compare_runs_each_graph_over_seeds_and_draws_bands(tmp_path, capsys):
    with_target = small_dqn(tmp_path)
    (tmp_path / "b").mkdir()
    without = tmp_path / "b" / "no_target.yaml"
    without.write_text(with_target.read_text().replace("target_q: target.module",
                                                       "target_q: qnet.module"))
    out = tmp_path / "cmp"
    code = main(["compare", str(with_target), str(without), "--seeds", "2", "--steps", "300",
                 "--jobs", "1", "--out", str(out), "-o", str(tmp_path / "curves.png")])
    text = capsys.readouterr().out
    assert code == 0
    assert "4 runs (2 graphs x 2 seeds), 1 at a time" in text
    for stem in ("small_dqn", "no_target"):
        for seed in (1, 2):
            run = out / stem / f"seed-{seed}"
            assert json.loads((run / "summary.json").read_text())["seed"] == seed
            assert (run / "metrics.csv").exists() and (run / "run.log").exists()
    assert (tmp_path / "curves.png").read_bytes()[:8] == PNG
    rows = read_csv(tmp_path / "curves.csv")
    assert list(rows[0]) == ["graph", "env_steps", "mean", "std", "runs"]
    assert {r["graph"] for r in rows} == {"small_dqn", "no_target"}
    assert max(float(r["env_steps"]) for r in rows) <= 300
    assert {r["runs"] for r in rows} <= {"1", "2"} and "2" in {r["runs"] for r in rows}
    # seeds differ, so the band has a width somewhere
    assert any(float(r["std"]) > 0 for r in rows)
    # each run's line ends on the number its curve ends on, and says which number it is
    for stem in ("small_dqn", "no_target"):
        line = next(x for x in text.splitlines() if f"  {stem} seed 1:" in x)
        assert "episode return, mean of the last 10 episodes" in line
        curve = read_curve(out / stem / "seed-1", "return", 10)
        assert float(line.rsplit(" ", 1)[1]) == pytest.approx(curve.y[-1], abs=0.05)


def test_plot_groups_finished_runs_by_graph(tmp_path, capsys):
    graph = small_dqn(tmp_path)
    runs = []
    for seed in (1, 2):
        runs.append(tmp_path / f"run{seed}")
        assert main(["run", str(graph), "--steps", "200", "--seed", str(seed), "--quiet",
                     "--no-tensorboard", "--out", str(runs[-1])]) == 0
    assert main(["plot", *map(str, runs), "-o", str(tmp_path / "p.svg")]) == 0
    assert "wrote" in capsys.readouterr().out
    assert (tmp_path / "p.svg").read_text().lstrip().startswith("<?xml")
    rows = read_csv(tmp_path / "p.csv")
    assert {r["graph"] for r in rows} == {"dqn_target"} and rows[-1]["runs"] == "2"
    # every run evaluates, so greedy returns plot without an EvalEpisodes node
    assert main(["plot", *map(str, runs), "--y", "eval", "-o", str(tmp_path / "e.svg")]) == 0
    rows = read_csv(tmp_path / "e.csv")
    assert rows[-1]["runs"] == "2"


def test_plot_of_a_folder_without_rows_is_a_clear_error(tmp_path, capsys):
    assert main(["plot", str(tmp_path), "-o", str(tmp_path / "p.png")]) == 1
    assert "no metrics.csv in this folder" in capsys.readouterr().err
    assert main(["plot", str(tmp_path), "--y", "eval", "-o", str(tmp_path / "p.png")]) == 1
    assert "no eval.csv in this folder" in capsys.readouterr().err


def test_resampling_holds_the_latest_value_until_the_run_ends_and_bands_average_runs():
    a = Curve("g", Path("a"), x=[10, 20, 30], y=[1.0, 2.0, 3.0])
    b = Curve("g", Path("b"), x=[15, 30], y=[3.0, 5.0])
    nan = float("nan")
    # a finished run is not drawn on as a flat line past its end ...
    assert resample(a, [5, 10, 25, 40]) == pytest.approx([nan, 1.0, 2.0, nan], nan_ok=True)
    # ... which is its last env step (summary.json), not its last episode's
    a.end = 45
    assert resample(a, [25, 40, 50]) == pytest.approx([2.0, 3.0, nan], nan_ok=True)
    a.end = None
    grid, stats = bands({"g": [a, b]}, points=4)
    assert grid == [0.0, 10.0, 20.0, 30.0]
    assert stats["g"][0][2] == 0  # no run has a value yet
    assert stats["g"][2] == (pytest.approx(2.5), pytest.approx(0.5), 2)
    assert stats["g"][3] == (pytest.approx(4.0), pytest.approx(1.0), 2)


def test_compare_checks_every_graph_before_running(tmp_path, capsys):
    assert main(["compare", "graphs/dqn.yaml", "graphs/dqn_target.yaml", "--set",
                 "loss.gama=0.9", "--out", str(tmp_path / "cmp")]) == 1
    assert "did you mean 'gamma'" in capsys.readouterr().err
    assert not (tmp_path / "cmp").exists()


def test_compare_checks_the_picture_format_before_running(tmp_path, capsys):
    assert main(["compare", "graphs/dqn.yaml", "-o", str(tmp_path / "curves.txt"),
                 "--out", str(tmp_path / "cmp")]) == 1
    err = capsys.readouterr().err
    assert "cannot draw a picture to 'curves.txt': unknown format '.txt'" in err
    assert ".png" in err and ".svg" in err
    assert not (tmp_path / "cmp").exists()


def test_plot_of_a_missing_folder_or_to_a_name_without_format_is_a_clear_error(
        tmp_path, capsys):
    assert main(["plot", str(tmp_path / "nope"), "-o", str(tmp_path / "p.png")]) == 1
    assert f"{tmp_path / 'nope'}: error: no such run folder" in capsys.readouterr().err
    assert main(["plot", str(tmp_path), "-o", str(tmp_path / "p")]) == 1
    assert "the name has no extension" in capsys.readouterr().err
