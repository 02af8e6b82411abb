"""`rlgraph run`'s run folder: CSV rows, TensorBoard events, checkpoints, summary, progress,
and a run stopped by a NaN."""

from __future__ import annotations

import csv
import json

import pytest
from workflow_nodes import small_dqn

from rlgraph.cli import main
from rlgraph.workflow.checkpoint import list_checkpoints
from rlgraph.workflow.progress import format_numbers, key_numbers

EVAL = """
  eval:
    type: EvalEpisodes
    every: 200
    after: 200
    params: {episodes: 3}
    in: {spec: env.spec, q: qnet.module}
    order: {after: [sample]}   # evaluates the network as this tick's updates left it
"""


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_a_run_folder_holds_rows_events_checkpoints_and_a_summary(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", str(small_dqn(tmp_path, EVAL)), "--steps", "600", "--out", str(out),
                 "--checkpoint-every", "200", "--eval-every", "150"]) == 0
    text = capsys.readouterr().out
    assert "small_dqn" not in text and "dqn_target: 600 ticks" in text
    episodes = read_csv(out / "metrics.csv")
    assert list(episodes[0]) == ["tick", "env_steps", "episode", "return", "length"]
    assert len(episodes) > 10 and [int(r["episode"]) for r in episodes] == list(
        range(1, len(episodes) + 1))
    assert all(float(r["return"]) == int(r["length"]) for r in episodes)  # CartPole: +1/step
    # the run's evaluations: every 150 ticks, the last one the final 20 episodes
    evals = read_csv(out / "eval.csv")
    assert [(r["tick"], r["env_steps"], r["episodes"]) for r in evals] == [
        ("150", "149", "10"), ("300", "299", "10"), ("450", "449", "10"), ("600", "599", "20")]
    assert list(evals[0]) == ["tick", "env_steps", "episodes", "return_mean", "return_std",
                              "return_min", "return_max", "length_mean"]
    # the graph's own EvalEpisodes node writes beside them
    node_evals = read_csv(out / "eval-eval.csv")
    assert [(r["tick"], r["env_steps"], r["episodes"]) for r in node_evals] == [
        ("200", "200", "3"), ("400", "400", "3")]
    assert list((out / "tb").glob("events.out.tfevents.*"))
    # ticks 200 and 400 were checkpointed, then the end; the newest two are kept, and
    # the best evaluation's state beside them
    assert [p.name for p in list_checkpoints(out)] == ["ckpt-000000400.pt",
                                                       "ckpt-000000600.pt"]
    assert (out / "checkpoints" / "best.pt").is_file()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "finished" and summary["ticks"] == 600
    assert summary["checkpoint"].endswith("ckpt-000000600.pt")
    assert summary["report"]["metrics/episodes"] == len(episodes)
    assert summary["report"]["eval/eval_return"] == float(node_evals[-1]["return_mean"])
    final = summary["evaluation"]["final"]
    assert final["return_mean"] == pytest.approx(float(evals[-1]["return_mean"]))
    assert len(final["returns"]) == 20


def test_tensorboard_holds_returns_and_reports(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    out = tmp_path / "run"
    assert main(["run", str(small_dqn(tmp_path)), "--steps", "300", "--out", str(out),
                 "--quiet"]) == 0
    events = EventAccumulator(str(out / "tb"))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert {"metrics/return", "metrics/length", "policy/epsilon", "loss/loss",
            "env/steps_per_s", "evaluation/return_mean", "evaluation/eval_return"} <= tags
    returns = events.Scalars("metrics/return")
    assert [e.value for e in returns] == [float(r["return"])
                                          for r in read_csv(out / "metrics.csv")]


def test_plain_progress_lines_show_the_key_numbers(tmp_path, capsys):
    assert main(["run", str(small_dqn(tmp_path)), "--steps", "300", "--no-tensorboard",
                 "--out", str(tmp_path / "run")]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("[300/300]"))
    for label in ("steps 299", "steps/s", "return", "eval", "eps", "loss"):
        assert label in line
    assert "replay" not in line and "updates" not in line  # not every report key


def test_key_numbers_label_a_key_several_nodes_report_with_the_node():
    numbers = key_numbers({"env/env_steps": 1200, "a.loss/loss": 0.5, "b.loss/loss": 0.25,
                           "policy/epsilon": 0.1, "replay/size": 5})
    assert format_numbers(numbers) == "steps 1,200  eps 0.1  a.loss:loss 0.5  b.loss:loss 0.25"


def test_quiet_prints_no_progress(tmp_path, capsys):
    assert main(["run", str(small_dqn(tmp_path)), "--steps", "300", "--quiet",
                 "--no-tensorboard", "--out", str(tmp_path / "run")]) == 0
    assert not [x for x in capsys.readouterr().out.splitlines() if x.startswith("[")]


def test_a_nan_loss_stops_the_run_naming_node_and_tick_and_keeps_the_last_checkpoint(
        tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["run", str(small_dqn(tmp_path)), "--steps", "600", "--set", "optim.lr=1e30",
                 "--checkpoint-every", "100",
                 "--no-tensorboard", "--quiet", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 1
    summary = json.loads((out / "summary.json").read_text())
    failure = summary["failure"]
    assert summary["status"] == "failed" and failure["node"] == "optim"
    assert "node 'optim': the loss is" in err and f"at tick {failure['tick']}" in err
    assert "Traceback" not in err
    # the checkpoint before the failure is kept, nothing was saved after it
    last = list_checkpoints(out)[-1]
    assert int(last.stem.split("-")[1]) == failure["tick"] // 100 * 100
    assert summary["checkpoint"] == str(last)


@pytest.mark.parametrize("flag", ["--checkpoint-every", "--keep-checkpoints"])
def test_bad_checkpoint_options_are_usage_errors(flag, tmp_path, capsys):
    with pytest.raises(SystemExit) as info:
        main(["run", "graphs/dqn.yaml", flag, "-1"])
    assert info.value.code == 2


def test_threads_option_sets_torch_threads(tmp_path):
    import torch
    assert main(["run", str(small_dqn(tmp_path)), "--steps", "20", "--threads", "2",
                 "--quiet", "--no-tensorboard", "--out", str(tmp_path / "run")]) == 0
    assert torch.get_num_threads() == 2


def test_a_bad_threads_environment_value_is_a_user_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RLGRAPH_THREADS", "many")
    assert main(["run", str(small_dqn(tmp_path)), "--steps", "20", "--quiet",
                 "--no-tensorboard", "--out", str(tmp_path / "run")]) == 1
    assert "RLGRAPH_THREADS" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("out, error", [("a_file", "run folder {} is a file"),
                                        ("a_file/run", "cannot create run folder {}")])
def test_an_out_folder_that_cannot_be_made_is_a_user_error(out, error, tmp_path, capsys):
    (tmp_path / "a_file").write_text("", encoding="utf-8")
    target = tmp_path / out
    assert main(["run", "graphs/dqn.yaml", "--quiet", "--out", str(target)]) == 1
    assert error.format(target) in capsys.readouterr().err
