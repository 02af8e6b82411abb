"""The shipped DQN graphs: they check clean, run deterministically, keep the notebook's
schedule, and learn."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import torch
from support import line_of

from rlgraph.core import build, load, read_graph
from rlgraph.core.validate import check_graph
from rlgraph.workflow.evaluate import evaluate_graph

GRAPHS = Path(__file__).resolve().parent.parent / "graphs"
SHIPPED = ["dqn_target", "dqn", "double_dqn", "dqn_soft_target", "dqn_notebook", "per_dqn",
           "dueling_double_dqn", "selective_dqn"]


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_graph_checks_without_errors_or_warnings(name):
    spec, errors = read_graph(GRAPHS / f"{name}.yaml")
    checked = check_graph(spec)
    assert not errors and not checked.errors
    assert [w.format() for w in checked.warnings] == []
    assert spec.name == name


def test_dqn_is_dqn_target_with_the_target_network_rewired():
    """The seed notebook's exercise: dropping the target network is one wire."""
    with_target, without = (read_graph(GRAPHS / f"{n}.yaml")[0] for n in ("dqn_target",
                                                                           "dqn"))
    assert set(with_target.nodes) - set(without.nodes) == {"target"}
    for name, node in without.nodes.items():
        other = with_target.nodes[name]
        assert (node.type, dict(node.params)) == (other.type, dict(other.params)), name
        wires = {p: str(e.src) for p, e in node.inputs.items()}
        other_wires = {p: str(e.src) for p, e in other.inputs.items()}
        if name == "loss":
            assert other_wires.pop("target_q") == "target.module"
            assert wires.pop("target_q") == "qnet.module"
        assert wires == other_wires, name


def returns_of(path: Path, seed: int, ticks: int, overrides: tuple[str, ...] = ()
               ) -> list[float]:
    with build(load(path, overrides=overrides), seed=seed) as graph:
        graph.run(ticks)
        return [row["return"] for row in graph.nodes["metrics"].rows]


def test_same_seed_gives_identical_episode_returns():
    # a smaller learner, so that many training bursts and target copies fit in 3000 ticks
    small = ("qnet.hidden=[32]", "sample.every=64", "sample.repeat=16", "target.every=64",
             "policy.decay_steps=1500")
    a = returns_of(GRAPHS / "dqn_target.yaml", seed=4, ticks=3000, overrides=small)
    b = returns_of(GRAPHS / "dqn_target.yaml", seed=4, ticks=3000, overrides=small)
    c = returns_of(GRAPHS / "dqn_target.yaml", seed=5, ticks=3000, overrides=small)
    assert len(a) > 20
    assert a == b
    assert a != c


def test_several_envs_fill_replay_with_every_env_step():
    overrides = ("env.num_envs=4", "sample.every=64", "sample.after=250", "sample.repeat=8",
                 "target.every=64", "target.after=250")
    with build(load(GRAPHS / "dqn_target.yaml", overrides=overrides), seed=2) as graph:
        graph.run(1001)  # tick 0 resets, then 1000 ticks x 4 envs
        assert graph.nodes["env"].env_steps == 4000
        open_windows = int(graph.nodes["nstep"].filled.sum())  # steps held back, <= 2 an env
        assert len(graph.nodes["replay"].memory) + open_windows == 4000
        assert graph.nodes["optim"].updates == 8 * len(range(256, 1001, 64))
        assert graph.nodes["metrics"].report()["episodes"] > 4000 / 100


def test_notebook_schedule():
    """10 updates after each episode once the buffer holds > 2000 transitions; target
    copied after episodes 10, 20, ...; epsilon = max(0.01, 0.08 - 0.01 * n_epi / 200)."""
    with build(GRAPHS / "dqn_notebook.yaml", seed=1) as graph:
        graph.run(6000)
        rows = graph.nodes["metrics"].rows
        trained_after = [r for r in rows if r["env_steps"] > 2000]
        assert 0 < len(trained_after) < len(rows)
        assert graph.nodes["optim"].updates == 10 * len(trained_after)
        assert graph.nodes["target"].updates == (len(rows) - 1) // 10
        n_epi = len(rows)
        assert graph.nodes["policy"].epsilon == pytest.approx(
            max(0.01, 0.08 - 0.01 * n_epi / 200))
        # rewards are scaled before replay; returns are reported unscaled
        memory = graph.nodes["replay"].memory
        rewards = memory.storage["reward"][: len(memory)]
        assert torch.allclose(rewards, torch.full_like(rewards, 0.01))
        assert all(r["return"] == r["length"] for r in rows)


def test_two_line_custom_loss_from_a_yaml_file(tmp_path):
    (tmp_path / "my_losses.py").write_text(
        "import torch.nn.functional as F\n"
        "from rlgraph.nodes.losses import DQNLoss\n\n"
        "class MSELoss(DQNLoss):\n"
        "    def td_loss(self, pred, target):\n"
        "        return F.mse_loss(pred, target, reduction='none')\n")
    text = (GRAPHS / "dqn_target.yaml").read_text().replace("type: DQNLoss",
                                                            "type: my_losses:MSELoss")
    (tmp_path / "custom.yaml").write_text(text)
    with build(tmp_path / "custom.yaml", seed=1) as graph:
        assert type(graph.nodes["loss"]).__name__ == "MSELoss"
        graph.run(1300)  # bursts of 128 updates at ticks 1024 and 1280
        assert graph.nodes["optim"].updates == 256
        batch = graph.nodes["sample"].memory.gather(torch.arange(64))
        out = graph.nodes["loss"].step(batch)
        assert torch.allclose(out["losses"], out["td_error"] ** 2)


def test_two_learners_in_one_graph_train_their_own_networks(tmp_path):
    """Seed 003's wish: two DQNs (or two optimized losses) in one system."""
    text = (GRAPHS / "dqn_target.yaml").read_text() + """
  qnet_b:
    type: MLP
    params: {hidden: [32]}
    in: {spec: env.spec}

  loss_b:
    type: DoubleDQNLoss
    in: {batch: sample.batch, q: qnet_b.module, target_q: qnet_b.module}

  optim_b:
    type: RMSprop
    params: {lr: 1.0e-3}
    in: {loss: loss_b.loss, module: qnet_b.module}
"""
    (tmp_path / "twin.yaml").write_text(text)
    checked = load(tmp_path / "twin.yaml")
    assert checked.warnings == []
    with build(checked, seed=1) as graph:
        a = [p.detach().clone() for p in graph.value("qnet.module").parameters()]
        b = [p.detach().clone() for p in graph.value("qnet_b.module").parameters()]
        graph.run(1300)
        assert graph.nodes["optim"].updates == graph.nodes["optim_b"].updates == 256
        assert all(not torch.equal(x, y) for x, y in
                   zip(a, graph.value("qnet.module").parameters()))
        assert all(not torch.equal(x, y) for x, y in
                   zip(b, graph.value("qnet_b.module").parameters()))


def test_dqn_target_clearly_beats_random_on_cartpole():
    """The fast learning check: a random policy averages about 22 on CartPole-v1. Greedy
    evaluation every 1000 env steps must reach a mean of 150 within 15k steps (it does
    around 2k for this seed; the full benchmark is tools/bench_learning.py)."""
    with build(GRAPHS / "dqn_target.yaml", seed=1) as graph:
        env = graph.nodes["env"]
        graph.run(1)  # tick 0: reset
        scores = []
        while env.env_steps < 15_000 and (not scores or scores[-1] < 150):
            graph.run(1000)
            scores.append(evaluate_graph(graph, episodes=10, seed=12345).mean)
        assert scores[-1] >= 150, f"greedy returns every 1000 env steps: {scores}"


def assert_resumes_exactly(path: Path, overrides: tuple[str, ...], first: int,
                           then: int, module: str = "qnet.module") -> list[dict]:
    """Run `first` ticks, save, run `then` more; a graph built with another seed and
    loaded from the save must give the same episodes and weights after `then` ticks.
    Returns the episode rows."""
    with build(load(path, overrides=overrides), seed=6) as graph:
        graph.run(first)
        saved = copy.deepcopy(graph.state_dict())
        graph.run(then)
        expected = graph.nodes["metrics"].rows
        weights = [p.detach().clone() for p in graph.value(module).parameters()]
    with build(load(path, overrides=overrides), seed=99) as resumed:
        resumed.load_state_dict(saved)
        resumed.run(then)
        assert resumed.nodes["metrics"].rows == expected
        for mine, theirs in zip(resumed.value(module).parameters(), weights):
            assert torch.equal(mine, theirs)
    return expected


def test_checkpoint_resumes_a_run_exactly():
    """Every node of the graph saves its state: env, policy RNG and schedule, replay,
    sampler RNG, networks, target, optimizer moments, metrics."""
    small = ("qnet.hidden=[32]", "sample.every=64", "sample.repeat=8", "target.every=64",
             "policy.decay_steps=1000")
    rows = assert_resumes_exactly(GRAPHS / "dqn_target.yaml", small, first=1500, then=1500)
    assert len(rows) > 40


def test_per_dqn_feeds_every_batch_s_td_errors_back_as_priorities():
    """One gradient step every 2 ticks from tick 1000; each batch's TD errors reach the
    buffer on the next tick, over the delayed wires."""
    with build(GRAPHS / "per_dqn.yaml", seed=1) as graph:
        graph.run(1300)
        replay, optim = graph.nodes["replay"], graph.nodes["optim"]
        assert optim.updates == 150
        assert replay.updates == 150  # the last batch's errors arrived at tick 1299
        memory = replay.memory
        leaves = memory.tree.get(np.arange(memory.capacity))
        assert memory.tree.total == pytest.approx(leaves.sum())
        assert len(np.unique(leaves[: len(memory)])) > 100  # no longer all at max
        assert memory.max_priority > 1.0
        assert graph.nodes["sample"].report()["beta"] == pytest.approx(0.4 + 0.6 * 1298 / 50000)


def test_per_dqn_checkpoint_resumes_exactly_with_batches_in_flight():
    small = ("qnet.hidden=[32]", "sample.after=500", "policy.decay_steps=1000")
    # first=1501, odd: a sampled batch and its TD errors are on the delayed wires
    assert_resumes_exactly(GRAPHS / "per_dqn.yaml", small, first=1501, then=1000)


def test_dqn_target_stores_every_env_step_as_one_3_step_transition():
    with build(load(GRAPHS / "dqn_target.yaml", overrides=("env.num_envs=3",)),
               seed=2) as graph:
        graph.run(401)  # 400 ticks x 3 envs
        memory = graph.nodes["replay"].memory
        open_windows = int(graph.nodes["nstep"].filled.sum())
        assert len(memory) + open_windows == 1200 and open_windows <= 3 * 2
        steps = memory.storage["steps"][: len(memory)]
        rewards = memory.storage["reward"][: len(memory)]
        assert rewards.shape == (len(memory), 3) and set(steps.tolist()) == {1, 2, 3}
        # CartPole pays 1 per step: each row holds k ones, then zero padding
        assert torch.equal(rewards.sum(dim=1), steps.float())


def test_selective_dqn_trains_on_a_quarter_of_the_scored_rows():
    with build(GRAPHS / "selective_dqn.yaml", seed=1) as graph:
        graph.run(1300)  # 2 bursts of 512 scored batches of 128 at ticks 1024 and 1280
        select, optim = graph.nodes["select"], graph.nodes["optim"]
        assert optim.updates == select.trainings > 0
        assert select.scored == 2 * 512 * 128
        # E[U^3] = 1/4 for stationary losses; the loss falls during a burst of 128 steps,
        # so a batch ranks low against its history a little more often than that
        assert select.report()["backprop_fraction"] == pytest.approx(0.25, abs=0.04)


def test_a_prioritized_buffer_without_its_feedback_wires_is_a_located_warning(tmp_path):
    text = (GRAPHS / "per_dqn.yaml").read_text()
    cut = "\n".join(line for line in text.splitlines()
                    if "td_error: {from" not in line and "sampled: {from" not in line)
    (tmp_path / "no_feedback.yaml").write_text(cut)
    warnings = [w.format() for w in load(tmp_path / "no_feedback.yaml").warnings]
    assert len(warnings) == 2, warnings
    assert "node 'replay', port 'td_error': optional input 'td_error' is not connected" \
        in warnings[0]
    replay = line_of(tmp_path / "no_feedback.yaml", "  replay:")
    assert "port 'sampled'" in warnings[1] and f":{replay}:3: warning" in warnings[0]  # the node
