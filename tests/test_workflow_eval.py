"""`rlgraph eval`: greedy episodes of a run's network, from a run folder or a checkpoint."""

from __future__ import annotations

import re

import pytest

from rlgraph.workflow import checkpoint as ckpt
from rlgraph.cli import main
from workflow_nodes import small_dqn


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("eval")
    out = tmp / "run"
    assert main(["run", str(small_dqn(tmp)), "--steps", "300", "--checkpoint-every", "100",
                 "--keep-checkpoints", "5", "--quiet", "--no-tensorboard",
                 "--out", str(out)]) == 0
    return out


def returns_in(text: str) -> list[float]:
    return [float(x) for x in re.search(r"returns: (.*)", text).group(1).split()]


def test_eval_of_a_run_folder_uses_its_newest_checkpoint(trained, capsys):
    assert main(["eval", str(trained), "--episodes", "4"]) == 0
    text = capsys.readouterr().out
    assert "dqn_target at tick 300" in text and "ckpt-000000300.pt" in text
    assert "4 greedy episodes of CartPole-v1 with qnet.module" in text
    returns = returns_in(text)
    assert len(returns) == 4 and all(r >= 1 for r in returns)
    mean = re.search(r"return ([\d.]+) ± ([\d.]+)", text)
    assert float(mean.group(1)) == pytest.approx(sum(returns) / 4, abs=0.01)
    # greedy and seeded: the same numbers again
    assert main(["eval", str(trained), "--episodes", "4"]) == 0
    assert returns_in(capsys.readouterr().out) == returns


def test_eval_of_an_older_checkpoint_and_another_network(trained, capsys):
    older = ckpt.checkpoint_path(trained, 100)
    assert main(["eval", str(older), "--episodes", "2", "--q", "target.module"]) == 0
    assert "at tick 100" in capsys.readouterr().out


def test_eval_with_a_wrong_network_name_lists_the_networks(trained, capsys):
    assert main(["eval", str(trained), "--q", "env.obs"]) == 1
    err = capsys.readouterr().err
    assert "'env.obs' is not a network output" in err
    assert "qnet.module, target.module" in err


@pytest.mark.parametrize("command", ["eval", "resume"])
def test_a_missing_run_folder_is_a_clear_error(command, tmp_path, capsys):
    assert main([command, str(tmp_path / "nope")]) == 1
    assert f"{tmp_path / 'nope'}: error: no such run folder" in capsys.readouterr().err


def test_a_checkpoint_outside_its_run_folder_is_a_clear_error(trained, tmp_path, capsys):
    lone = tmp_path / "lone.pt"
    lone.write_bytes(ckpt.checkpoint_path(trained, 300).read_bytes())
    assert main(["eval", str(lone)]) == 1
    err = capsys.readouterr().err
    assert f"{lone}: error: not a checkpoint inside a run folder" in err
    assert "pass a run folder" in err


def test_evaluate_graph_scores_the_policy_network_without_touching_training(tmp_path):
    import torch

    from rlgraph.core import build, load
    from rlgraph.workflow.evaluate import evaluate_graph
    from rlgraph.nodes.evaluation import greedy_returns

    path = small_dqn(tmp_path)
    with build(load(path)) as scored, build(load(path)) as plain:
        scored.run(150)
        plain.run(150)
        result = evaluate_graph(scored, episodes=3, seed=5)
        assert (result.env_id, result.q, result.seed) == ("CartPole-v1", "qnet.module", 5)
        assert result.returns == greedy_returns(scored.value("qnet.module"), "CartPole-v1",
                                                3, seed=5)[0]
        assert result.mean == pytest.approx(sum(result.returns) / 3)
        scored.run(150)
        plain.run(150)
        assert scored.nodes["metrics"].rows == plain.nodes["metrics"].rows
        for a, b in zip(scored.value("qnet.module").parameters(),
                        plain.value("qnet.module").parameters()):
            assert torch.equal(a, b)
