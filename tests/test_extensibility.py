"""The shipped extension examples: a two-line custom loss, two learners in one graph
built from one subgraph file, overrides on nested names, and their drawing."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F

from rlgraph.core import build, load
from rlgraph.render import to_dot

ROOT = Path(__file__).resolve().parent.parent
TWO_DQN = ROOT / "graphs" / "two_dqn.yaml"
CUSTOM = ROOT / "examples" / "custom_loss" / "dqn_mse.yaml"
BURST = 1025  # ticks until the first training burst (after 1000, every 256) has run


def params_of(module: torch.nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in module.parameters()])


def test_custom_loss_example_trains_with_its_own_td_loss():
    checked = load(CUSTOM)
    assert checked.warnings == []
    with build(checked) as graph:
        loss = graph.nodes["loss"]
        assert type(loss).__name__ == "MSELoss"
        pred, target = torch.tensor([1.0, 2.0, 5.0]), torch.tensor([0.0, 2.0, 1.0])
        assert torch.equal(loss.td_loss(pred, target), F.mse_loss(pred, target,
                                                                  reduction="none"))
        assert not torch.equal(loss.td_loss(pred, target),
                               F.smooth_l1_loss(pred, target, reduction="none"))
        before = params_of(graph.nodes["qnet"].static_outputs["module"])
        graph.run(BURST)
        assert graph.nodes["optim"].report()["updates"] == 128
        assert not torch.equal(before, params_of(graph.nodes["qnet"].static_outputs["module"]))


def test_two_learners_from_one_subgraph_train_independently():
    checked = load(TWO_DQN)
    assert checked.warnings == []
    nodes = checked.spec.nodes
    assert {"a.qnet", "a.loss", "a.optim", "b.qnet", "b.loss", "b.optim"} <= set(nodes)
    with build(checked) as graph:
        a_net = graph.nodes["a.qnet"].static_outputs["module"]
        b_net = graph.nodes["b.qnet"].static_outputs["module"]
        assert graph.value("a.target.module") is not graph.value("b.target.module")
        assert graph.nodes["a.loss"].gamma == 0.99 and graph.nodes["b.loss"].gamma == 0.98
        assert graph.nodes["b.qnet"].hidden == [64, 64]
        a0, b0 = params_of(a_net), params_of(b_net)
        assert a0.numel() != b0.numel()  # different architectures
        graph.run(BURST)
        for name in ("a", "b"):
            assert graph.nodes[f"{name}.optim"].report()["updates"] == 128
            assert graph.nodes[f"{name}.replay"].report()["size"] == BURST - 1
        assert not torch.equal(a0, params_of(a_net))
        assert not torch.equal(b0, params_of(b_net))
        assert graph.nodes["a.loss"].report()["loss"] != graph.nodes["b.loss"].report()["loss"]


def test_overrides_reach_nested_and_exported_params():
    checked = load(TWO_DQN, overrides=["b.gamma=0.95", "a.sample.every=256",
                                       "a.optim.lr=1e-3"])
    nodes = checked.spec.nodes
    assert nodes["b.loss"].params["gamma"] == 0.95
    assert nodes["a.loss"].params["gamma"] == 0.99
    assert nodes["a.sample"].triggers.every == 256
    assert nodes["a.optim"].params["lr"] == 0.001


def test_two_learners_are_drawn_as_clusters():
    dot = to_dot(load(TWO_DQN))
    assert dot.count("subgraph cluster") >= 2
    assert '"a.loss"' in dot and '"b.optim"' in dot
