"""The one place where the node library trades plain torch for speed, per call.

Each helper does what a plain torch call does (the same numbers up to float rounding,
the same state), with less Python work per call; each says what it saves, measured by
`python tools/bench_speedups.py` against the plain call. Everything else in the node
library is plain torch. (The large wins are elsewhere and documented where they live:
the replay buffer's deferred writes, the prioritized sum tree, fused optimizer kernels.)

- FastSequential: nn.Sequential for the MLPs policies act with every tick;
- FusedAdamStep: one fused Adam update without Adam.step's per-call wrapping;
- no_dynamo_import: building an optimizer and saving or loading its state without
  importing torch._dynamo (about as long as importing torch itself).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.optim.adam import adam

FUNCTIONAL = {nn.ReLU: torch.relu, nn.Tanh: torch.tanh}
#: the same activations in place: right after a linear layer, whose output is a fresh
#: tensor no one else holds (autograd saves a linear layer's inputs, not its output)
IN_PLACE = {nn.ReLU: torch.relu_, nn.Tanh: torch.tanh_}


class FastSequential(nn.Sequential):
    """nn.Sequential whose forward calls linear layers and plain activations directly.

    Same children, parameters and state_dict keys as nn.Sequential and the same numbers
    up to float rounding, at less Python cost per forward (acting calls it every tick
    with one row): no per-layer `Module.__call__`, no `Module.__getattr__` for weights
    (it reads each Linear's own parameter dict), and no Flatten of an already flat
    batch. A single row (one env acting) goes through the linear layers as a vector,
    matrix-vector products costing less than 1-row matrix products. The plan of calls
    is rebuilt whenever the children change; a Linear whose weight is computed (torch
    parametrizations, weight_norm) is called as a module. An activation right after a
    linear layer runs in place on the layer's fresh output (one tensor fewer to allocate
    and write per layer: what a batch of 256 through 256-wide layers is bound by).
    Forward hooks on the inner layers are not called.

    Measured with tools/bench_speedups.py (1 torch thread): a 4-256-2 MLP's 1-row
    forward 22 -> 11 us, its 32-row forward and backward 133 -> 124 us; a 4-256-256-1
    critic's 256-row forward and backward 1,458 -> 1,355 us (best of 25, load 3; alone
    the gain is within noise). In sac_pendulum's tick, where other tensors crowd the
    cache, it is ~7%: `python tools/bench_update.py --algo sac`, the tick over the plain
    torch step, 1.11 -> 1.03 (medians of three runs each, docs/benchmarks.md)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        children = tuple(self._modules.values())
        if children != getattr(self, "_plan_children", None):
            self._plan = _plan(children)
            self._plan_children = children
        vector = False  # x is the single row of a (1, features) batch
        for kind, target in self._plan:
            if kind is _LINEAR:  # the layer's own parameter dict: always its current ones
                params, layer = target
                weight, bias = params.get("weight"), params.get("bias")
                if weight is None:  # a computed weight (parametrizations, weight_norm)
                    if vector:
                        x, vector = x.unsqueeze(0), False
                    x = layer(x)
                    continue
                if not vector and x.dim() == 2 and x.shape[0] == 1:
                    x, vector = x[0], True
                if vector:
                    x = torch.mv(weight, x) if bias is None else torch.addmv(bias, weight, x)
                else:
                    x = F.linear(x, weight, bias)
            elif kind is _ACTIVATION:
                x = target(x)
            else:
                if vector:  # modules get the batch shape they expect
                    x, vector = x.unsqueeze(0), False
                if kind is _CALL or x.dim() != 2:  # Flatten only what is not flat
                    x = target(x)
        return x.unsqueeze(0) if vector else x


_LINEAR, _ACTIVATION, _FLATTEN, _CALL = "linear", "activation", "flatten", "call"


def _plan(children: tuple[nn.Module, ...]) -> list[tuple[str, Any]]:
    """What Stack.forward calls for each child: F.linear on a Linear's parameters, the
    torch function of a plain activation, or the module itself."""
    plan: list[tuple[str, Any]] = []
    for layer in children:
        kind = type(layer)
        after_linear = bool(plan) and plan[-1][0] is _LINEAR
        if kind is nn.Linear:
            plan.append((_LINEAR, (layer._parameters, layer)))
        elif kind in FUNCTIONAL:
            plan.append((_ACTIVATION, (IN_PLACE if after_linear else FUNCTIONAL)[kind]))
        elif kind is nn.Flatten and layer.start_dim == 1 and layer.end_dim == -1:
            plan.append((_FLATTEN, layer))
        else:
            plan.append((_CALL, layer))
    return plan




class FusedAdamStep:
    """Updates the parameters of a fused torch Adam, as `optimizer.step()` does.

    It calls torch's functional `adam` (the kernel Adam.step calls) on the optimizer's
    own state with the arguments Adam.step passes it: the same update and the same
    state_dict, without Adam.step's per-call profiler, hook and grad-mode wrapping (and
    so without the optimizer's step hooks, which no rlgraph node registers). The first
    step (which creates the state), a missing gradient, and a non-fused optimizer go
    through Adam.step. Call `reset()` after loading a state_dict (new state tensors).

    Measured with tools/bench_speedups.py (4-256-2 MLP, 1 torch thread): a step
    55 -> 26 us.
    """

    def __init__(self, optimizer: torch.optim.Adam, parameters: list[nn.Parameter]) -> None:
        self.optimizer = optimizer
        self.parameters = parameters
        self._moments: tuple[list[torch.Tensor], ...] | None = None

    def reset(self) -> None:
        self._moments = None

    def __call__(self, grads: tuple[torch.Tensor | None, ...]) -> None:
        group = self.optimizer.param_groups[0]
        if self._moments is None or not group["fused"] or any(g is None for g in grads):
            self.optimizer.step()
            if group["fused"] and len(self.optimizer.state) == len(self.parameters):
                state = [self.optimizer.state[p] for p in self.parameters]
                self._moments = tuple([s[key] for s in state]
                                      for key in ("exp_avg", "exp_avg_sq", "step"))
            return
        exp_avgs, exp_avg_sqs, steps = self._moments
        beta1, beta2 = group["betas"]
        adam(self.parameters, list(grads), exp_avgs, exp_avg_sqs, [], steps,  # type: ignore[arg-type]
             amsgrad=False, beta1=beta1, beta2=beta2, lr=group["lr"],
             weight_decay=group["weight_decay"], eps=group["eps"], maximize=False,
             fused=True, grad_scale=None, found_inf=None)

    @property
    def active(self) -> bool:
        """Whether the next step goes through the functional kernel."""
        return self._moments is not None


#: torch.optim.Optimizer's methods that torch wraps in `torch._disable_dynamo`, whose
#: first call imports torch._dynamo to make the wrapper.
DYNAMO_WRAPPED = ("add_param_group", "zero_grad", "state_dict", "load_state_dict")


@contextmanager
def no_dynamo_import() -> Iterator[None]:
    """Within: torch.optim.Optimizer's bookkeeping methods run as plain functions.

    torch wraps them in `torch._disable_dynamo`, which imports torch._dynamo on the first
    call (to tell torch.compile not to trace them) and caches the result on the function
    as `__dynamo_disable`. rlgraph compiles nothing, so inside this block the plain
    function stands in as that cache, and no import happens; on leaving, the functions
    are as torch left them. Where torch._dynamo is imported already, or torch names
    things otherwise, it does nothing. Building a graph (its optimizers' constructors)
    and `rlgraph eval` (loading their state) so never import torch._dynamo; a training
    run still does, at its first update (Adam.step imports it each call).

    Measured with tools/bench_startup.py (the 2-core machine, loaded): building the
    first Adam 2.07 -> 0.40 s.
    """
    import sys
    cached: list[Any] = []
    if "torch._dynamo" not in sys.modules:
        for name in DYNAMO_WRAPPED:
            plain = getattr(getattr(torch.optim.Optimizer, name, None), "__wrapped__", None)
            if plain is not None and getattr(plain, "__dynamo_disable", None) is None:
                setattr(plain, "__dynamo_disable", plain)
                cached.append(plain)
    try:
        yield
    finally:
        for plain in cached:
            if getattr(plain, "__dynamo_disable", None) is plain:
                delattr(plain, "__dynamo_disable")
