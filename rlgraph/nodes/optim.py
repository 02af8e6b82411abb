"""Optimizers: each trains one module on one loss, so several can share a graph."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

import torch
from torch import nn

from rlgraph.core import In, Kind, Node, Out, Param, register, saved
from rlgraph.core.schedules import Schedule

from .speedups import FusedAdamStep, no_dynamo_import


class NonFiniteError(FloatingPointError):
    """A NaN or infinite value where training needs a number; names the node and tick."""

    def __init__(self, message: str, *, node: str, tick: int) -> None:
        super().__init__(message)
        self.node = node
        self.tick = tick


TorchOptimizer = TypeVar("TorchOptimizer", bound=torch.optim.Optimizer)

FUSED_DEVICES = ("cpu", "cuda")
#: The param of the optimizers torch has a fused kernel for (Adam, SGD).
FUSED = {"fused": Param(bool, True, "torch's fused kernel: one kernel updates every "
                        "parameter (on CPU about 3x faster a step than the per-tensor "
                        "loop); used where torch has one for the device, else the default "
                        "implementation")}


class Optimizer(Node):
    """Base of the optimizer nodes: one gradient step of `module` on `loss` per firing.

    Gradients are computed for this module's parameters only (torch.autograd.grad), so
    optimizers of other modules in the graph are unaffected. A loss (or, with clipping, a
    gradient norm) that is NaN or infinite stops the run with a NonFiniteError naming
    the node and the tick, before the update, so the parameters stay the last good ones.
    Two optimizers may share a loss whose terms each involve one of their modules; where
    a term mixes both, the first update changes what the second differentiates: give
    each its own loss.
    Subclasses name the torch optimizer and its extra params.
    """

    inputs = {
        "loss": In(Kind.SCALAR, "the loss to minimize (a tensor with gradient)"),
        "module": In(Kind.MODULE, "the network whose parameters are updated", writes=True),
    }
    outputs = {
        "updated": Out(Kind.EVENT, "the number of updates so far, after each one: trigger "
                       "a node once per gradient step with `on: optim.updated` (a target "
                       "network's Polyak update, TD3's delayed actor)"),
    }
    common_params: ClassVar[dict[str, Param]] = {
        "lr": Param(float, 1e-3, "learning rate (or a schedule of it, e.g. "
                    "{linear: [3.0e-4, 0.0]} over the run)", low=0.0, low_open=True,
                    schedule=True),
        "max_grad_norm": Param(float, None, "clip the gradient's global L2 norm to this "
                               "(null: no clipping)", low=0.0, low_open=True),
    }
    params = common_params

    lr: Schedule
    max_grad_norm: float | None
    fused: bool = False  # subclasses with a fused kernel declare the param

    def make(self, parameters: list[nn.Parameter]) -> torch.optim.Optimizer:
        """The torch optimizer over `parameters`, built from this node's params."""
        raise NotImplementedError

    def fusable(self, kind: Callable[..., TorchOptimizer],
                parameters: list[nn.Parameter], **options: Any) -> TorchOptimizer:
        """`kind` over `parameters` with torch's fused kernel when the `fused` param asks
        for it and the parameters are floating point on CPU or CUDA (torch >= 2.4 has
        the kernels there); else torch's default implementation. Both give the same
        updates up to rounding."""
        if self.fused and all(p.is_floating_point() and p.device.type in FUSED_DEVICES
                              for p in parameters):
            try:
                return kind(parameters, fused=True, **options)
            except (RuntimeError, TypeError):  # an older torch: no CPU kernel, no option
                pass
        return kind(parameters, **options)

    def state_tensors(self) -> int:
        """How many tensors of each parameter's size the optimizer keeps (Adam's two
        moments); what its memory is reserved for."""
        return 0

    def setup(self, module: nn.Module) -> None:
        self.parameters = [p for p in module.parameters() if p.requires_grad]
        if not self.parameters:
            self.fail("the module has no trainable parameters", port="module",
                      hint="wire the trained network here, not a target network")
        size = sum(p.numel() * p.element_size() for p in self.parameters)
        self.reserve(self.state_tensors() * size, f"{type(self).__name__}'s state for "
                     f"{sum(p.numel() for p in self.parameters):,} parameters",
                     hint="use a smaller network")
        with no_dynamo_import():  # speedups.py: no torch._dynamo import to build it
            self.optimizer = self.make(self.parameters)
        self.updates = 0
        self.grad_norm: torch.Tensor | None = None

    def step(self, loss: torch.Tensor) -> dict[str, int]:
        # retain_graph: another optimizer may still differentiate the same loss
        grads = torch.autograd.grad(loss, self.parameters, retain_graph=True,
                                    allow_unused=True)
        for p, g in zip(self.parameters, grads):
            p.grad = g
        if self.max_grad_norm is not None:
            self.grad_norm = nn.utils.clip_grad_norm_(self.parameters, self.max_grad_norm)
        # checked before the weights change; .item() costs under 1 us on CPU (a tensor
        # isfinite costs ~10), on a GPU it waits for this update's kernels
        if not math.isfinite(loss.item()) or (
                self.grad_norm is not None and not math.isfinite(self.grad_norm.item())):
            self._stop_non_finite(loss)
        if not self.lr.is_constant:  # this update's learning rate
            lr = self.lr.at(self.clock.tick)
            for group in self.optimizer.param_groups:
                group["lr"] = lr
        self.apply(grads)
        self.updates += 1
        return {"updated": self.updates}

    def apply(self, grads: tuple[torch.Tensor | None, ...]) -> None:
        """Update the parameters from `grads` (also in each parameter's .grad)."""
        self.optimizer.step()

    def _stop_non_finite(self, loss: torch.Tensor) -> None:
        value = loss.item()
        norm = float("nan") if self.grad_norm is None else float(self.grad_norm)
        what = (f"the loss is {value}" if not math.isfinite(value)
                else f"the gradient norm is {norm}")
        raise NonFiniteError(
            f"node '{self.name}': {what} at tick {self.clock.tick} (update "
            f"{self.updates + 1}); stopped before the update, the parameters are the last "
            f"finite ones. Usual causes: a learning rate too high, rewards too large, "
            f"unclipped gradients (max_grad_norm)", node=self.name, tick=self.clock.tick)

    def report(self) -> dict[str, float]:
        out: dict[str, float] = {"updates": self.updates}
        if not self.lr.is_constant:
            out["lr"] = self.lr.at(self.clock.tick)
        if self.grad_norm is not None:
            out["grad_norm"] = float(self.grad_norm)
        return out

    def state_dict(self) -> dict[str, Any]:
        with no_dynamo_import():
            saved = self.optimizer.state_dict()
        return {"optimizer": copy.deepcopy(saved), "updates": self.updates}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        group = self.optimizer.param_groups[0]
        implementation: dict[str, Any] = {k: group[k] for k in ("fused", "foreach")
                                          if k in group}
        with no_dynamo_import():
            self.optimizer.load_state_dict(state["optimizer"])
        self.updates = saved.count(state, "updates")
        # the saved group brings the saving run's implementation; this node's params
        # decide it (a checkpoint of an unfused run resumes fused, and the other way)
        self.optimizer.param_groups[0].update(implementation)
        if implementation.get("fused"):  # fused kernels keep `step` as float32 beside p
            for p in self.parameters:
                moments = self.optimizer.state.get(p)
                if moments and "step" in moments:
                    moments["step"] = torch.as_tensor(moments["step"], dtype=torch.float32,
                                                      device=p.device)


@register
class Adam(Optimizer):
    """Trains a module with Adam, one step on the loss per firing.

    Gradient-norm clipping is optional; see Optimizer for how several optimizers share
    a graph."""

    params = {**Optimizer.common_params,
              "betas": Param(list, [0.9, 0.999], "running-average coefficients",
                             item=float),
              "eps": Param(float, 1e-8, "added to the denominator", low=0.0),
              **FUSED}

    betas: list[float]
    eps: float
    fused: bool

    def state_tensors(self) -> int:
        return 2  # the first and second moments

    def make(self, parameters: list[nn.Parameter]) -> torch.optim.Optimizer:
        optimizer = self.fusable(torch.optim.Adam, parameters, lr=self.lr.at(self.clock.tick),
                                 betas=tuple(self.betas), eps=self.eps)
        self._fused_step = FusedAdamStep(optimizer, parameters)  # speedups.py: 55 -> 26 us a step
        return optimizer

    def apply(self, grads: tuple[torch.Tensor | None, ...]) -> None:
        self._fused_step(grads)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self._fused_step.reset()  # the loaded state holds new tensors


@register
class RMSprop(Optimizer):
    """Trains a module with RMSprop, one step on the loss per firing.

    The optimizer of the 2015 DQN paper; gradient-norm clipping is optional."""

    params = {**Optimizer.common_params,
              "alpha": Param(float, 0.99, "smoothing constant", low=0.0, high=1.0),
              "eps": Param(float, 1e-8, "added to the denominator", low=0.0),
              "momentum": Param(float, 0.0, "momentum factor", low=0.0)}

    alpha: float
    eps: float
    momentum: float

    def state_tensors(self) -> int:
        return 1 + (self.momentum > 0)  # the square average, the momentum buffer

    def make(self, parameters: list[nn.Parameter]) -> torch.optim.Optimizer:
        return torch.optim.RMSprop(parameters, lr=self.lr.at(self.clock.tick),
                                   alpha=self.alpha, eps=self.eps, momentum=self.momentum)


@register
class SGD(Optimizer):
    """Trains a module with SGD (momentum optional), one step on the loss per firing.

    Gradient-norm clipping is optional."""

    params = {**Optimizer.common_params,
              "momentum": Param(float, 0.0, "momentum factor", low=0.0),
              "nesterov": Param(bool, False, "Nesterov momentum (needs momentum > 0)"),
              **FUSED}

    momentum: float
    nesterov: bool
    fused: bool

    def state_tensors(self) -> int:
        return int(self.momentum > 0)  # the momentum buffer

    def make(self, parameters: list[nn.Parameter]) -> torch.optim.Optimizer:
        if self.nesterov and self.momentum <= 0:
            self.fail("nesterov needs momentum > 0", hint="set momentum: 0.9")
        return self.fusable(torch.optim.SGD, parameters, lr=self.lr.at(self.clock.tick),
                            momentum=self.momentum, nesterov=self.nesterov)
