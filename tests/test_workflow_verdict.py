"""A run's evaluations: eval.csv, checkpoints/best.pt, the final verdict in the summary,
`rlgraph eval --checkpoint`, and resuming with the best-so-far bookkeeping intact."""

from __future__ import annotations

import csv
import json
import re

import pytest
from workflow_nodes import small_dqn

from rlgraph.cli import main
from rlgraph.workflow import checkpoint as ckpt
from rlgraph.workflow.scoring import verdict_lines

QUIET = ["--quiet", "--no-tensorboard"]


def read_csv(path):
    with open(path, newline="") as f:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(f)]


def mean_in(text: str) -> float:
    return float(re.search(r"\n  return ([-\d.]+) ±", text).group(1))


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """600 ticks evaluated every 60, one rolling checkpoint kept; (folder, stdout)."""
    tmp = tmp_path_factory.mktemp("verdict")
    out = tmp / "run"
    code = main(["run", str(small_dqn(tmp)), "--steps", "600", "--eval-every", "60",
                 "--checkpoint-every", "100", "--keep-checkpoints", "1", "--no-tensorboard",
                 "--out", str(out)])
    assert code == 0
    return out


def test_best_pt_is_the_state_of_the_best_evaluation_and_eval_picks_it(run, capsys):
    rows = read_csv(run / "eval.csv")
    assert [r["tick"] for r in rows] == [60 * k for k in range(1, 10)] + [600]
    best = max(rows, key=lambda r: r["return_mean"])  # max keeps the first of ties
    summary = json.loads((run / "summary.json").read_text())
    recorded = summary["evaluation"]["best"]
    assert (recorded["tick"], recorded["return_mean"]) == (best["tick"], best["return_mean"])
    assert recorded["checkpoint"] == str(run / "checkpoints" / "best.pt")
    # pruning keeps one rolling checkpoint and never best.pt
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == [
        "best.pt", "ckpt-000000600.pt"]
    # best.pt holds the network that scored it: the same episodes give the same mean
    episodes = int(best["episodes"])
    assert main(["eval", str(run), "--checkpoint", "best", "--episodes", str(episodes)]) == 0
    text = capsys.readouterr().out
    assert f"dqn_target at tick {int(best['tick'])}, the best checkpoint ({run}" in text
    assert "chosen during the run as the best evaluation: return " \
           f"{best['return_mean']:.2f} over {episodes} episodes" in text
    assert mean_in(text) == pytest.approx(best["return_mean"], abs=0.005)


def test_the_summary_carries_the_final_evaluation_and_the_verdict(run, capsys):
    summary = json.loads((run / "summary.json").read_text())
    verdict = summary["evaluation"]
    final = verdict["final"]
    assert (final["tick"], final["episodes"], final["seed"]) == (600, 20, 1_000_000)
    assert len(final["returns"]) == 20
    assert final["return_mean"] == pytest.approx(sum(final["returns"]) / 20)
    assert (verdict["env"], verdict["reward_threshold"]) == ("CartPole-v1", 475.0)
    assert verdict["solved"] is (final["return_mean"] >= 475)
    assert verdict["evaluations"] == 10 and verdict["every"] == 60
    # `rlgraph eval` of the last checkpoint with as many episodes repeats it exactly
    assert main(["eval", str(run), "--episodes", "20"]) == 0
    text = capsys.readouterr().out
    assert "dqn_target at tick 600, the newest checkpoint" in text
    returns = [float(x) for x in re.search(r"returns: (.*)", text).group(1).split()]
    assert returns == final["returns"]


def test_the_console_verdict_says_solved_or_not():
    final = {"tick": 500, "env_steps": 499, "episodes": 20, "return_mean": 480.5,
             "return_std": 12.25, "return_min": 450.0, "return_max": 500.0}
    best = {**final, "tick": 400, "env_steps": 399, "episodes": 10, "return_mean": 500.0,
            "checkpoint": "runs/x/checkpoints/best.pt"}
    verdict = {"env": "CartPole-v1", "mode": "greedy", "final": final, "best": best,
               "reward_threshold": 475.0, "solved": True, "final_episodes": 20}
    assert verdict_lines(verdict) == [
        "final evaluation: return 480.50 ± 12.25 over 20 greedy episodes of CartPole-v1 "
        "(min 450, max 500): solved (CartPole-v1 counts as solved at a mean of 475)",
        "best evaluation: return 500.00 over 10 episodes at env step 399 (tick 400): "
        "runs/x/checkpoints/best.pt"]
    failed = {**verdict, "solved": False}
    assert "NOT solved (CartPole-v1 counts" in verdict_lines(failed)[0]
    # an env without a reward threshold: no verdict on solving
    pendulum = {**verdict, "env": "Pendulum-v1", "mode": "deterministic",
                "reward_threshold": None, "solved": None}
    assert verdict_lines(pendulum)[0].endswith("(min 450, max 500)")
    # a run stopped before its end: the best so far, no final
    assert verdict_lines({**verdict, "final": None})[0] == \
        "no final evaluation: the run did not reach its end"
    assert verdict_lines({**verdict, "final": None, "final_episodes": 0})[0] == \
        "no final evaluation (--final-episodes 0)"


def test_a_printed_summary_ends_with_the_verdict(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", str(small_dqn(tmp_path)), "--steps", "200", "--final-episodes", "5",
                 "--no-tensorboard", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert re.search(r"final evaluation: return [\d.]+ ± [\d.]+ over 5 greedy episodes of "
                     r"CartPole-v1 \(min \d+, max \d+\): NOT solved \(CartPole-v1 counts as "
                     r"solved at a mean of 475\)", text)
    assert "best evaluation: return " in text and f"{out}/checkpoints/best.pt" in text


def test_resume_keeps_the_best_so_far_exactly(tmp_path):
    """A run that stopped after a new best and before its next rolling checkpoint (a
    killed process) resumes from best.pt, the newest state, and ends as if never
    stopped: the same eval.csv, best and final state."""
    graph = small_dqn(tmp_path)
    options = ["--steps", "600", "--eval-every", "70", "--final-episodes", "0",
               "--checkpoint-every", "200", "--keep-checkpoints", "5", *QUIET]
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    for out in (straight, killed):
        assert main(["run", str(graph), "--out", str(out), *options]) == 0
    best = json.loads((straight / "summary.json").read_text())["evaluation"]["best"]
    assert best["tick"] % 70 == 0 and best["tick"] % 200 != 0
    for path in ckpt.list_checkpoints(killed):  # what the killed run had not written yet
        if ckpt.tick_of(path) > best["tick"]:
            path.unlink()
    assert ckpt.latest(killed) == ckpt.best_path(killed)
    assert ckpt.tick_of(ckpt.best_path(killed)) == best["tick"]
    assert main(["resume", str(killed), *QUIET]) == 0
    for file in ("eval.csv", "metrics.csv"):
        assert (killed / file).read_text() == (straight / file).read_text(), file
    resumed = json.loads((killed / "summary.json").read_text())
    assert resumed["resumed_from_tick"] == best["tick"]
    assert {k: v for k, v in resumed["evaluation"]["best"].items() if k != "checkpoint"} \
        == {k: v for k, v in best.items() if k != "checkpoint"}
    a, b = (ckpt.read(ckpt.best_path(d))["state"]["nodes"]["qnet"]["module"]
            for d in (straight, killed))
    assert list(a) == list(b) and all(a[k].equal(b[k]) for k in a)


def test_a_run_that_cannot_be_evaluated_trains_and_says_why(tmp_path, capsys):
    graph = tmp_path / "policy.yaml"
    graph.write_text("""name: policy_only
steps: 20
nodes:
  env:
    type: GymEnv
    params: {id: CartPole-v1}
    in: {action: {from: policy.action, delay: 1}}
  policy:
    type: workflow_nodes:LeanLeft
    in: {obs: env.obs}
""")
    out = tmp_path / "run"
    assert main(["run", str(graph), *QUIET, "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "note: no evaluation in this run: LeanLeft is the policy but cannot act in " \
           "evaluation" in err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["evaluation"]["skipped"].startswith("LeanLeft is the policy")
    assert not (out / "eval.csv").exists() and not ckpt.best_path(out).exists()
    assert main(["eval", str(out), "--checkpoint", "best"]) == 1
    assert "no checkpoints/best.pt in this run folder" in capsys.readouterr().err


def test_evaluation_turned_off(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", str(small_dqn(tmp_path)), "--steps", "100", "--eval-every", "0",
                 "--final-episodes", "0", *QUIET, "--out", str(out)]) == 0
    assert "note:" not in capsys.readouterr().err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["evaluation"] == {"skipped": "turned off (--eval-every 0 "
                                                "--final-episodes 0)"}
    assert not (out / "eval.csv").exists()


def test_checkpoint_choices_that_do_not_fit_are_clear_errors(run, capsys):
    assert main(["eval", str(run), "--checkpoint", "ckpt-000000100.pt"]) == 1
    err = capsys.readouterr().err
    assert "no checkpoint 'ckpt-000000100.pt' in this run folder" in err
    assert "best, last, ckpt-000000600.pt" in err
    best = ckpt.best_path(run)
    assert main(["eval", str(best), "--checkpoint", "last"]) == 1
    assert "--checkpoint last chooses a checkpoint of a run folder" in capsys.readouterr().err
    assert main(["eval", str(best), "--episodes", "1"]) == 0  # a file alone is fine
    assert "the checkpoint (" in capsys.readouterr().out
