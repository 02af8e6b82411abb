"""TargetNetwork, driven without a graph."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from rlgraph.core import NodeConfigError
from rlgraph.nodes.target import TargetNetwork


def make_source() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2))


def shift(module: nn.Module, by: float) -> None:
    with torch.no_grad():
        for p in module.parameters():
            p.add_(by)


def test_hard_copy_at_build_then_only_when_fired():
    source = make_source()
    node = TargetNetwork(source=source)
    target = node.static_outputs["module"]
    assert target is not source
    for t, s in zip(target.parameters(), source.parameters()):
        assert torch.equal(t, s) and not t.requires_grad
    shift(source, 1.0)
    assert not torch.equal(target[0].weight, source[0].weight)  # frozen until fired
    node.step()
    for t, s in zip(target.state_dict().values(), source.state_dict().values()):
        assert torch.equal(t, s)
    assert node.report() == {"updates": 1}


def test_polyak_update_arithmetic():
    source = make_source()
    node = TargetNetwork(source=source, tau=0.1)
    target = node.static_outputs["module"]
    before = [p.detach().clone() for p in target.parameters()]
    shift(source, 2.0)
    node.step()
    for old, t, s in zip(before, target.parameters(), source.parameters()):
        # target + tau * (source - target) = old + 0.1 * 2
        assert torch.allclose(t, old + 0.1 * (s - old))
        assert torch.allclose(t, old + 0.2)
    node.step()  # a second update closes another 10% of the remaining gap
    for old, t in zip(before, target.parameters()):
        assert torch.allclose(t, old + 0.2 + 0.1 * 1.8)


def test_integer_buffers_are_copied_not_mixed():
    source = make_source()
    node = TargetNetwork(source=source, tau=0.5)
    source[1].num_batches_tracked.fill_(7)
    node.step()
    assert node.static_outputs["module"][1].num_batches_tracked.item() == 7


def test_tau_zero_is_rejected():
    with pytest.raises(NodeConfigError, match="tau"):
        TargetNetwork(source=make_source(), tau=0.0)


def test_state_dict_round_trip():
    source = make_source()
    a = TargetNetwork(source=source, tau=0.5)
    shift(source, 1.0)
    a.step()
    b = TargetNetwork(source=make_source(), tau=0.5)
    b.load_state_dict(a.state_dict())
    for x, y in zip(a.module.parameters(), b.module.parameters()):
        assert torch.equal(x, y)
    assert b.updates == 1
