"""SelectiveBackprop's two selection rules against reference computations, driven
without a graph."""

from __future__ import annotations

import pytest
import torch

from rlgraph.core import NodeConfigError
from rlgraph.nodes.data import Batch
from rlgraph.nodes.selective import SelectiveBackprop


def tagged(ids: list[int]) -> Batch:
    """A batch whose rows are tagged by id in every field."""
    t = torch.tensor(ids, dtype=torch.float32)
    return Batch(obs=t[:, None], action=torch.tensor(ids), reward=t, next_obs=t[:, None],
                 terminated=torch.zeros(len(ids), dtype=torch.bool),
                 truncated=torch.zeros(len(ids), dtype=torch.bool),
                 indices=torch.tensor(ids), weights=t / 100)


def test_top_rule_trains_on_the_largest_losses_of_patience_rows():
    node = SelectiveBackprop(rule="top", batch_size=3, patience=8)
    assert node.step(tagged([0, 1, 2, 3]), torch.tensor([0.1, 5.0, 0.2, 0.3])) is None
    out = node.step(tagged([4, 5, 6, 7]), torch.tensor([4.0, 0.0, 9.0, 0.4]))["batch"]
    assert sorted(out.action.tolist()) == [1, 4, 6]  # losses 5, 4, 9
    for field in ("obs", "reward", "next_obs", "indices", "weights"):  # rows stay whole
        values = getattr(out, field).flatten()
        assert sorted(values.tolist()) == sorted(
            (out.action.float() / (100 if field == "weights" else 1)).tolist())
    # the pool was emptied: the next 8 rows start over
    assert node.step(tagged([8, 9, 10, 11]), torch.tensor([9.0, 9.0, 9.0, 9.0])) is None
    assert node.report() == {"trainings": 1, "backprop_fraction": pytest.approx(3 / 12)}


def test_percentile_rule_keeps_each_row_with_probability_percentile_to_the_beta():
    """Against a reference replaying the same random draws: keep iff draw < F(loss)^beta,
    F the fraction of the last `history` losses (these included) at or below it."""
    torch.manual_seed(0)
    node = SelectiveBackprop(rule="percentile", batch_size=5, history=20, beta=2.0, seed=4)
    draws = torch.Generator().manual_seed(node.seed)  # the node's own stream
    history: list[float] = []
    pool: list[int] = []
    for k in range(12):
        ids = list(range(8 * k, 8 * k + 8))
        losses = torch.rand(8)
        history = (history + losses.tolist())[-20:]
        u = torch.rand(8, generator=draws, dtype=torch.float64).tolist()
        for i, loss in zip(ids, losses.tolist()):
            f = sum(h <= loss for h in history) / len(history)
            if u[ids.index(i)] < f ** 2.0:
                pool.append(i)
        out = node.step(tagged(ids), losses)
        if len(pool) >= 5:  # the oldest five kept rows, the rest wait
            assert out["batch"].action.tolist() == pool[:5]
            pool = pool[5:]
        else:
            assert out is None
    assert node.report()["trainings"] >= 3


def test_percentile_rule_backprops_about_one_in_four_with_beta_3():
    node = SelectiveBackprop(rule="percentile", batch_size=64, seed=1)
    gen = torch.Generator().manual_seed(2)
    for _ in range(400):
        node.step(tagged(list(range(64))), torch.rand(64, generator=gen))
    assert node.report()["backprop_fraction"] == pytest.approx(0.25, abs=0.02)


def test_beta_zero_keeps_every_row_in_order():
    node = SelectiveBackprop(rule="percentile", batch_size=3, beta=0.0)
    first = node.step(tagged([0, 1, 2, 3]), torch.rand(4))["batch"]
    second = node.step(tagged([4, 5]), torch.rand(2))["batch"]
    assert first.action.tolist() == [0, 1, 2] and second.action.tolist() == [3, 4, 5]
    assert node.report()["backprop_fraction"] == 1.0


def test_top_rule_needs_patience_of_at_least_a_batch():
    with pytest.raises(NodeConfigError, match="patience 32 < batch_size 64"):
        SelectiveBackprop(rule="top", batch_size=64, patience=32)


def test_state_round_trip_keeps_the_pool_and_the_draws():
    a = SelectiveBackprop(rule="percentile", batch_size=8, seed=3)
    gen = torch.Generator().manual_seed(0)
    for _ in range(5):
        a.step(tagged(list(range(8))), torch.rand(8, generator=gen))
    b = SelectiveBackprop(rule="percentile", batch_size=8, seed=99)
    b.load_state_dict(a.state_dict())
    for k in range(20):
        losses, ids = torch.rand(8, generator=gen), list(range(8 * k, 8 * k + 8))
        x, y = a.step(tagged(ids), losses), b.step(tagged(ids), losses)
        assert (x is None) == (y is None)
        if x is not None:
            assert torch.equal(x["batch"].action, y["batch"].action)
    assert a.report() == b.report()
