"""Adam, RMSprop and SGD, driven without a graph."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from rlgraph.core import NodeConfigError
from rlgraph.nodes.optim import SGD, Adam, RMSprop


class Scalar(nn.Module):
    def __init__(self, value: float) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.tensor([value]))


def test_sgd_step_is_minus_lr_times_gradient():
    m = Scalar(3.0)
    SGD(module=m, lr=0.1).step((m.w ** 2).sum())  # gradient 2w = 6
    assert m.w.item() == pytest.approx(3.0 - 0.1 * 6.0)


def test_gradient_norm_is_clipped():
    m = Scalar(3.0)
    opt = SGD(module=m, lr=1.0, max_grad_norm=0.5)
    opt.step((m.w ** 2).sum())  # gradient 6, clipped to 0.5
    assert m.w.item() == pytest.approx(2.5)
    assert opt.report()["grad_norm"] == pytest.approx(6.0)  # the norm before clipping


@pytest.mark.parametrize("cls", [Adam, RMSprop, SGD])
def test_each_optimizer_descends_a_quadratic(cls):
    m = Scalar(3.0)
    opt = cls(module=m, lr=0.05)
    for _ in range(20):
        opt.step(((m.w - 1.0) ** 2).sum())
    assert abs(m.w.item() - 1.0) < 2.0 - 0.1
    assert opt.report()["updates"] == 20


def test_two_optimizers_on_one_loss_each_update_only_their_module():
    a, b = Scalar(1.0), Scalar(2.0)
    opt_a, opt_b = SGD(module=a, lr=0.1), SGD(module=b, lr=0.01)
    loss = (a.w ** 2 + b.w ** 3).sum()  # d/da = 2a = 2, d/db = 3b^2 = 12
    opt_a.step(loss)
    opt_b.step(loss)  # the same loss a second time: no "backward twice" error
    assert a.w.item() == pytest.approx(1.0 - 0.1 * 2.0)
    assert b.w.item() == pytest.approx(2.0 - 0.01 * 12.0)


def test_gradients_of_other_losses_do_not_leak_in():
    a, b = Scalar(1.0), Scalar(1.0)
    opt_a = SGD(module=a, lr=0.1)
    (10.0 * a.w).sum().backward()  # someone else's stale gradient on a
    opt_a.step((a.w * b.w).sum())  # this loss: d/da = 1
    assert a.w.item() == pytest.approx(1.0 - 0.1)


def test_a_frozen_module_is_a_config_error_with_a_hint():
    frozen = Scalar(1.0).requires_grad_(False)
    with pytest.raises(NodeConfigError, match="no trainable parameters") as info:
        Adam(module=frozen)
    assert "target network" in info.value.hint


def test_state_dict_resumes_adam_moments():
    a, b = Scalar(3.0), Scalar(3.0)
    opt_a, opt_b = Adam(module=a, lr=0.1), Adam(module=b, lr=0.1)
    for _ in range(3):
        opt_a.step((a.w ** 2).sum())
    b.load_state_dict(a.state_dict())
    opt_b.load_state_dict(opt_a.state_dict())
    opt_a.step((a.w ** 2).sum())
    opt_b.step((b.w ** 2).sum())
    assert a.w.item() == b.w.item()


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_a_non_finite_loss_stops_before_the_update_naming_node_and_tick(bad):
    from rlgraph.core import Clock
    from rlgraph.nodes.optim import NonFiniteError
    m, clock = Scalar(3.0), Clock()
    opt = Adam(module=m, lr=0.1, name="optim", clock=clock)
    opt.step((m.w ** 2).sum())
    clock.tick = 42
    before = m.w.detach().clone()
    with pytest.raises(NonFiniteError, match=r"node 'optim': the loss is (nan|inf) at tick 42 "
                                             r"\(update 2\)") as info:
        opt.step((m.w * bad).sum())
    assert (info.value.node, info.value.tick) == ("optim", 42)
    assert torch.equal(m.w, before) and opt.updates == 1


def test_an_infinite_gradient_norm_stops_the_run():
    from rlgraph.nodes.optim import NonFiniteError
    a, b = Scalar(1e-20), Scalar(1e-20)
    both = nn.ModuleList([a, b])
    opt = SGD(module=both, lr=0.1, max_grad_norm=1.0)
    loss = (a.w * 1e20 + b.w * 1e20).sum()  # 2.0, but the gradient norm overflows float32
    with pytest.raises(NonFiniteError, match="the gradient norm is inf"):
        opt.step(loss)
    assert a.w.item() == pytest.approx(1e-20)


@pytest.mark.parametrize("cls", [Adam, SGD])
def test_fused_and_default_kernels_give_the_same_updates(cls):
    """`fused` (the default) picks torch's fused kernel on CPU; the updates are those of
    the default implementation up to float rounding."""
    torch.manual_seed(0)
    nets = [nn.Linear(4, 3), nn.Linear(4, 3)]
    nets[1].load_state_dict(nets[0].state_dict())
    fused, plain = cls(module=nets[0], lr=0.01), cls(module=nets[1], lr=0.01, fused=False)
    assert fused.optimizer.defaults["fused"] and not plain.optimizer.defaults["fused"]
    x = torch.randn(16, 4)
    start = nets[0].weight.detach().clone()
    for _ in range(50):
        for opt, net in zip((fused, plain), nets):
            opt.step((net(x) ** 2).mean())
    for a, b in zip(nets[0].parameters(), nets[1].parameters()):
        assert torch.allclose(a, b, atol=1e-6)
    assert (nets[0].weight - start).abs().max() > 0.1  # they did train


def test_adam_updates_exactly_as_torch_adam_also_after_a_reload():
    """The node's fused Adam calls torch's functional adam on the optimizer's state:
    bit for bit what torch.optim.Adam(fused=True).step does, before and after
    load_state_dict."""
    torch.manual_seed(0)
    nets = [nn.Linear(4, 3), nn.Linear(4, 3)]
    nets[1].load_state_dict(nets[0].state_dict())
    node = Adam(module=nets[0], lr=0.01, betas=[0.8, 0.99])
    torch_adam = torch.optim.Adam(nets[1].parameters(), lr=0.01, betas=(0.8, 0.99),
                                  fused=True)
    x = torch.randn(16, 4)

    def both_step() -> None:
        node.step((nets[0](x) ** 2).mean())
        torch_adam.zero_grad()
        (nets[1](x) ** 2).mean().backward()
        torch_adam.step()

    for _ in range(5):
        both_step()
    saved, weights = node.state_dict(), {k: v.clone() for k, v in nets[0].state_dict().items()}
    for _ in range(3):
        both_step()
    node.load_state_dict(saved)  # back to step 5; torch's Adam goes back too
    nets[0].load_state_dict(weights)
    nets[1].load_state_dict(weights)
    torch_adam.load_state_dict(copy.deepcopy(saved["optimizer"]))  # torch keeps its tensors
    for _ in range(4):
        both_step()
    for a, b in zip(nets[0].parameters(), nets[1].parameters()):
        assert torch.equal(a, b)
    assert node.updates == 9
    moments = node.optimizer.state_dict()["state"]
    assert all(torch.equal(moments[i]["exp_avg"], torch_adam.state_dict()["state"][i]["exp_avg"])
               for i in moments)


def test_this_nodes_fused_param_decides_also_after_loading_another_runs_state():
    """torch's load_state_dict brings the saving run's implementation; the node keeps
    its own, so a checkpoint of an unfused Adam resumes fused (and the other way)."""
    torch.manual_seed(0)
    nets = [nn.Linear(3, 2) for _ in range(3)]
    x = torch.randn(4, 3)
    unfused = Adam(module=nets[0], fused=False)
    unfused.step(nets[0](x).pow(2).mean())
    fused = Adam(module=nets[1])
    fused.load_state_dict(unfused.state_dict())
    for _ in range(3):
        fused.step(nets[1](x).pow(2).mean())
    assert fused.optimizer.param_groups[0]["fused"] and fused._fused_step.active
    plain = Adam(module=nets[2], fused=False)
    plain.load_state_dict(fused.state_dict())
    plain.step(nets[2](x).pow(2).mean())
    assert not plain.optimizer.param_groups[0]["fused"] and plain.updates == 5


def test_a_learning_rate_schedule_sets_each_updates_rate():
    """lr: {linear: [0.1, 0.0], ticks: 10}: the update at tick t uses 0.1 * (1 - t/10);
    with SGD the step is exactly lr * gradient."""
    from rlgraph.core import Clock
    net = nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        net.weight.fill_(1.0)
    clock = Clock()
    opt = SGD(module=net, lr={"linear": [0.1, 0.0], "ticks": 10}, clock=clock)
    x = torch.ones(1, 1)
    weights = []
    for tick in (0, 5, 10):
        clock.tick = tick
        opt.step(net(x).sum())  # gradient 1
        weights.append(net.weight.item())
    assert weights == pytest.approx([0.9, 0.85, 0.85])
    assert opt.report()["lr"] == 0.0
