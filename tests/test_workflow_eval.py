"""`rlgraph eval`: greedy episodes of a run's network, from a run folder or a checkpoint."""

from __future__ import annotations

import re

import pytest
from workflow_nodes import policy_graph, small_dqn

from rlgraph.cli import main
from rlgraph.workflow import checkpoint as ckpt


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
    assert "4 greedy episodes of CartPole-v1 with qnet.module through policy " \
           "(EpsilonGreedy, greedy)" in text
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
    from rlgraph.nodes.evaluation import greedy_returns
    from rlgraph.workflow.evaluate import evaluate_graph

    path = small_dqn(tmp_path)
    with build(load(path)) as scored, build(load(path)) as plain:
        scored.run(150)
        plain.run(150)
        result = evaluate_graph(scored, episodes=3, seed=5)
        assert (result.env_id, result.mode, result.seed) == ("CartPole-v1", "greedy", 5)
        assert result.acting == "qnet.module through policy (EpsilonGreedy, greedy)"
        assert result.returns == greedy_returns(scored.value("qnet.module"), "CartPole-v1",
                                                3, seed=5)[0]
        assert result.mean == pytest.approx(sum(result.returns) / 3)
        scored.run(150)
        plain.run(150)
        assert scored.nodes["metrics"].rows == plain.nodes["metrics"].rows
        for a, b in zip(scored.value("qnet.module").parameters(),
                        plain.value("qnet.module").parameters()):
            assert torch.equal(a, b)


SHIFTED = """
  shift:
    type: workflow_nodes:ShiftObs
    params: {offset: 0.5}
    in: {obs: env.obs}
  eval:
    type: EvalEpisodes
    every: 100
    after: 100
    params: {episodes: 3}
    in: {spec: env.spec}
"""


def shifted_dqn(tmp_path):
    """small_dqn whose policy acts on env.obs + 0.5, with an EvalEpisodes node."""
    path = small_dqn(tmp_path, SHIFTED)
    text = path.read_text()
    assert "obs: env.obs, q: qnet.module" in text
    path.write_text(text.replace("obs: env.obs, q: qnet.module", "obs: shift.obs, q: qnet.module"))
    return path


def test_evaluation_runs_the_preprocessing_between_env_and_policy(tmp_path):
    """A network trained behind a preprocessing node is evaluated behind it too, and
    evaluating changes nothing in the graph."""
    import torch

    from rlgraph.core import build, load
    from rlgraph.nodes.envs import GymEvalEnvs
    from rlgraph.nodes.evaluation import play_episodes
    from rlgraph.workflow.evaluate import evaluate_graph

    with build(load(shifted_dqn(tmp_path))) as graph:
        graph.run(201)
        q, shift = graph.value("qnet.module"), graph.nodes["shift"]
        calls = shift.calls
        result = evaluate_graph(graph, episodes=3, seed=5)
        assert shift.calls == calls
        spec = graph.value("env.spec")
        by_hand = play_episodes(lambda obs: q(obs + 0.5).argmax(dim=1),
                                GymEvalEnvs(spec, {}, 3, 5, torch.device("cpu")))
        assert result.returns == by_hand[0] and result.lengths == by_hand[1]
        raw = play_episodes(lambda obs: q(obs).argmax(dim=1),
                            GymEvalEnvs(spec, {}, 3, 5, torch.device("cpu")))
        assert raw != by_hand  # the offset matters to this network: the test can tell
        # the EvalEpisodes node inside the graph plays the same path; its evaluation at
        # tick 200 came after the tick's update, with the network as it is now
        rows = graph.nodes["eval"].rows
        assert [r["tick"] for r in rows] == [100, 200]
        seed = graph.seeds["eval"] + 3  # its second evaluation's episodes
        returns, _ = play_episodes(lambda obs: q(obs + 0.5).argmax(dim=1),
                                   GymEvalEnvs(spec, {}, 3, seed, torch.device("cpu")))
        assert rows[1]["return_mean"] == pytest.approx(sum(returns) / 3)


def trained_policy_run(tmp_path, env_params: str, policy: str, steps: int = 20):
    """A run folder of an env and a custom policy (workflow_nodes), nothing learning."""
    graph = policy_graph(tmp_path, env_params, policy, steps)
    out = tmp_path / "run"
    assert main(["run", str(graph), "--quiet", "--no-tensorboard", "--out", str(out)]) == 0
    return out


def test_a_policy_without_act_is_a_located_error(tmp_path, capsys):
    out = trained_policy_run(tmp_path, "{id: CartPole-v1}", "LeanLeft")
    assert main(["eval", str(out)]) == 1
    err = capsys.readouterr().err
    assert "graph.yaml:" in err and "node 'policy': LeanLeft is the policy but cannot act " \
        "in evaluation" in err
    assert "subclass rlgraph.core.Acting and define act(" in err


def test_a_continuous_policy_is_evaluated_deterministically(tmp_path, capsys):
    """What a DDPG written as custom nodes needs: eval of a Box-action policy."""
    out = trained_policy_run(tmp_path, "{id: Pendulum-v1, kwargs: {max_episode_steps: 50}}",
                             "Torque")
    assert main(["eval", str(out), "--episodes", "3"]) == 0
    text = capsys.readouterr().out
    assert "3 deterministic episodes of Pendulum-v1 with policy (Torque, deterministic)" in text
    returns = returns_in(text)
    assert len(returns) == 3 and all(-50 * 16.3 <= r < 0 for r in returns)
