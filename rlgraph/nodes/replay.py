"""Experience replay: a ring of preallocated tensors, and samplers that draw batches."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from rlgraph.core import (
    REQUIRED,
    In,
    Kind,
    Node,
    NodeConfigError,
    Out,
    Param,
    PlansMemory,
    register,
)
from rlgraph.core import memory as machine

from .data import Batch, EnvSpec, Transition
from .device import torch_device

#: Rows held by reference before a replay memory writes them into its storage.
PENDING_ROWS = 256
#: the least a stored transition takes (one float of obs and next_obs, an int64 action,
#: reward, the two flags): a buffer's size with no env spec to go by
MIN_TRANSITION_BYTES = 4 + 4 + 8 + 4 + 2


def transition_bytes(spec: EnvSpec) -> int:
    """Bytes of one stored transition of this env: obs and next_obs (float32), the
    action (int64 index or float32 array), the reward (float32), the two flags."""
    action = 8 if spec.discrete else 4 * spec.action_size
    return 2 * 4 * spec.obs_size + action + 4 + 2


def plan_replay(node: Node, capacity: int, specs: Sequence[Any]) -> None:
    """Reserve a replay buffer's storage: capacity x the largest transition of the
    graph's envs (nodes upstream may add fields; the first transition has the last
    word)."""
    envs = [s for s in specs if isinstance(s, EnvSpec)]
    row = max((transition_bytes(s) for s in envs), default=MIN_TRANSITION_BYTES)
    node.reserve(capacity * row, f"a replay buffer of {capacity:,} transitions of {row} "
                 f"bytes", hint="lower capacity")


class ReplayMemory:
    """The last `capacity` transitions in preallocated torch tensors, used as a ring.

    Storage is allocated on the first `add`, when the shapes and dtypes are known, and
    never grows: memory = capacity x bytes_per_transition (both obs and next_obs are
    stored, so that no transition needs its neighbour and none crosses an episode end).
    It lives on `device`; transitions are copied there as they are added. It stores
    every field the first transition holds (not None): n-step `steps`, a policy's
    `log_prob`, whatever the nodes upstream added; later transitions must hold the same.

    Writes are deferred: `add` claims the slots at once (len, pos and the slots of later
    rows are final) but keeps the transition by reference, and the pending rows are
    written with one concatenation per field before anything reads the storage (a
    gather, `storage`, a checkpoint) or once PENDING_ROWS have gathered. Per env step
    that costs a list append instead of a dozen tiny tensor copies. It relies on the
    graph's rule that no node writes into a tensor it has emitted or received.
    """

    def __init__(self, capacity: int, device: torch.device | str = "cpu",
                 owner: str | None = None) -> None:
        self.capacity = capacity
        self.device = torch.device(device)
        self.owner = owner  # the buffer node's name, for errors found in a flush
        self._storage: dict[str, torch.Tensor] = {}
        self.pos = 0  # slot the next transition goes to
        self.size = 0  # slots filled
        self._present: tuple[str, ...] = ()  # the fields stored, in storage order
        self._checked: tuple[str, ...] | None = None  # field names known to fit the storage
        self._views: dict[str, np.ndarray] = {}
        self._pending: list[dict[str, torch.Tensor]] = []  # added rows' fields, not yet stored
        self._pending_rows = 0
        self._flush_limit = min(capacity, PENDING_ROWS)

    def __len__(self) -> int:
        return self.size

    @property
    def storage(self) -> dict[str, torch.Tensor]:
        """Field name -> the (capacity, ...) tensor of that field, every row written."""
        self.flush()
        return self._storage

    @property
    def bytes_per_transition(self) -> int:
        return sum(t[0].numel() * t.element_size() for t in self._storage.values())

    @property
    def memory_bytes(self) -> int:
        """Bytes held by the storage (0 before the first transition)."""
        return self.capacity * self.bytes_per_transition

    def add(self, transition: Transition) -> None:
        """Store every row of one transition, overwriting the oldest when full (rows go
        to slots pos, pos + 1, ... modulo capacity)."""
        n = transition.reward.shape[0]
        if n > self.capacity:
            raise NodeConfigError(f"{n} transitions in one tick do not fit a replay "
                                  f"capacity of {self.capacity}", port="transition",
                                  hint=f"set capacity to at least {n} (one row per env)")
        fields = transition.__dict__
        if tuple(fields) != self._checked:  # a new set of fields: check (once) what it holds
            self._check_fields(transition)
        if not n:
            return
        if self._pending_rows + n > self._flush_limit:
            self.flush()
        self._pending.append(fields)
        self._pending_rows += n
        self.pos = (self.pos + n) % self.capacity
        self.size = min(self.size + n, self.capacity)

    def flush(self) -> None:
        """Write the pending rows into the storage (they end at slot pos)."""
        if not self._pending:
            return
        pending, rows = self._pending, self._pending_rows
        self._pending, self._pending_rows = [], 0
        start = (self.pos - rows) % self.capacity
        first = min(rows, self.capacity - start)  # rows before the ring wraps
        for name in self._present:
            values = [fields[name] for fields in pending]
            field = self._storage[name]
            try:
                rows_of = (values[0] if len(values) == 1 else torch.cat(values)).detach()
            except RuntimeError:  # rows of different shapes; else not ours to explain
                if all(v.shape[1:] == field.shape[1:] for v in values):
                    raise
                raise self._shape_error(name, values) from None
            if rows_of.shape[1:] != field.shape[1:]:  # (numpy would broadcast some)
                raise self._shape_error(name, values)
            view = self._views.get(name)
            if view is not None:  # CPU storage: numpy writes cost least
                _write_ring(view, rows_of.to("cpu", field.dtype).numpy(), start, first)
            else:
                _write_ring(field, rows_of.to(self.device, field.dtype), start, first)

    def _shape_error(self, name: str, values: list[torch.Tensor]) -> NodeConfigError:
        stored = tuple(self._storage[name].shape[1:])
        bad = next(tuple(v.shape[1:]) for v in values if tuple(v.shape[1:]) != stored)
        return NodeConfigError(
            f"transition field '{name}' has rows of shape {bad}, but this buffer stores "
            f"rows of shape {stored} (set by its first transition)", port="transition",
            hint="one replay buffer takes the transitions of one env spec; check what "
                 "feeds it", node=self.owner)

    def _check_fields(self, transition: Transition) -> None:
        """The fields of the first transition set the storage; later ones must hold the
        same (in any order)."""
        present = transition.present()
        if not self._storage:
            self._allocate(transition, present)
        elif set(present) != set(self._present):
            raise NodeConfigError(
                f"transition fields {sorted(present)} differ from those stored so far "
                f"{sorted(self._present)}; one replay buffer takes one kind of transition "
                f"(n-step or one-step, with the same extra fields)", port="transition",
                node=self.owner, hint="give each kind of transition its own buffer")
        # a transition whose fields are all present vouches for the next with its keys
        self._checked = tuple(transition.__dict__) if len(present) == len(
            transition.__dict__) else None

    def _allocate(self, transition: Transition, present: tuple[str, ...]) -> None:
        for name in present:
            value = getattr(transition, name)
            if not isinstance(value, torch.Tensor):
                raise NodeConfigError(
                    f"transition field '{name}' holds a {type(value).__name__}, not a "
                    f"tensor; a replay buffer stores tensors with one row per env",
                    port="transition", node=self.owner,
                    hint="emit the field as a tensor (torch.as_tensor) or leave it out")
        row = sum(math.prod(getattr(transition, name).shape[1:])
                  * getattr(transition, name).element_size() for name in present)
        # the build reserved an estimate from the env spec; this is the exact size,
        # checked against what the machine has now, before the storage is made
        problem = machine.reserve(self.capacity * row, f"{self.owner} (a replay buffer of "
                                  f"{self.capacity:,} transitions of {row} bytes)")
        if problem:
            raise NodeConfigError(problem, port="transition", node=self.owner,
                                  hint="lower capacity")
        self._present = present
        for name in present:
            value = getattr(transition, name)
            self._storage[name] = torch.zeros((self.capacity, *value.shape[1:]),
                                              dtype=value.dtype, device=self.device)
        self._make_views()

    def _make_views(self) -> None:
        """Numpy views of the CPU storage fields numpy has a dtype for (same memory),
        for fast writes; the others (cuda storage, bfloat16) are written by torch."""
        self._views = {}
        if self.device.type == "cpu":
            for name, field in self._storage.items():
                with contextlib.suppress(TypeError):  # no numpy dtype (bfloat16)
                    self._views[name] = field.numpy()

    def gather(self, indices: torch.Tensor) -> Batch:
        """The transitions in the given slots, as a batch on the memory's device."""
        indices = indices.to(self.device)
        rows = {name: field.index_select(0, indices) for name, field in self.storage.items()}
        return Batch(indices=indices, **rows)

    def state_dict(self) -> dict[str, Any]:
        return {"storage": {k: v[: self.size].clone() for k, v in self.storage.items()},
                "pos": self.pos, "size": self.size}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pos, size, storage = state["pos"], state["size"], state["storage"]
        if not (isinstance(pos, int) and isinstance(size, int)
                and 0 <= pos < self.capacity and 0 <= size <= self.capacity):
            raise ValueError(f"a replay position {pos!r} and size {size!r} that a buffer "
                             f"of capacity {self.capacity} cannot have")
        if not isinstance(storage, dict) or not all(
                isinstance(v, torch.Tensor) and v.dim() >= 1 and len(v) == size
                for v in storage.values()):
            raise ValueError(f"replay storage that does not hold {size} rows per field")
        self._pending, self._pending_rows = [], 0
        self._storage = {}
        for name, saved in storage.items():
            self._storage[name] = torch.zeros((self.capacity, *saved.shape[1:]),
                                              dtype=saved.dtype, device=self.device)
            self._storage[name][: len(saved)] = saved.to(self.device)
        self._present = tuple(self._storage)
        self._checked = None
        self._make_views()
        self.pos, self.size = pos, size


def _write_ring(target: Any, source: Any, start: int, first: int) -> None:
    """Rows of `source` into `target` from slot `start`, the rows past `first` wrapping
    around to slot 0 (numpy arrays or tensors alike)."""
    target[start:start + first] = source[:first]
    if first < len(source):
        target[: len(source) - first] = source[first:]


@register
class ReplayBuffer(Node, PlansMemory):
    """Stores every env's transitions in a fixed-size ring of preallocated tensors.

    Memory: capacity x (2 x observation bytes + 8 action + 4 reward + 2 flag bytes), e.g.
    100,000 CartPole transitions (4 float32 features) take 4.6 MB. When full, the oldest
    transitions are overwritten. Samplers read it through the `buffer` handle. The
    storage lives on the graph's device. A transition with no rows (an NStep that has
    not filled a window yet) stores nothing.
    """

    inputs = {"transition": In(Kind.TRANSITION, "transitions to store, one row per env")}
    outputs = {"buffer": Out(Kind.BUFFER, "handle on the memory, for samplers")}
    params = {"capacity": Param(int, REQUIRED, "transitions kept (oldest dropped first)",
                                low=1)}

    capacity: int

    def setup(self) -> dict[str, Any]:
        self.memory = ReplayMemory(self.capacity, torch_device(self), owner=self.name)
        return {"buffer": self.memory}

    def plan_memory(self, specs: Sequence[Any]) -> None:
        plan_replay(self, self.capacity, specs)

    def step(self, transition: Transition) -> None:
        self.memory.add(transition)

    def report(self) -> dict[str, float]:
        return {"size": len(self.memory)}

    def state_dict(self) -> dict[str, Any]:
        return self.memory.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.memory.load_state_dict(state)


#: The params every sampler has.
SAMPLER_PARAMS = {
    "batch_size": Param(int, 32, "transitions per batch", low=1,
                        at_most="buffer.capacity"),
    "min_size": Param(int, None, "emit nothing while the buffer holds fewer "
                      "transitions (default: batch_size)", low=1,
                      at_most="buffer.capacity"),
}


@register
class UniformSampler(Node):
    """Draws batches of transitions uniformly (with replacement) from a replay buffer.

    Emits nothing until the buffer holds `min_size` transitions; how often it fires is
    set by the node's triggers (every / after / on / repeat). Indices are drawn on the
    CPU (the same batches on every device) and the batch is gathered on the buffer's.
    """

    inputs = {"buffer": In(Kind.BUFFER, "the replay memory to draw from")}
    outputs = {"batch": Out(Kind.BATCH, "obs, action, reward, next_obs, terminated, "
                            "truncated, indices; batch_size rows")}
    params = SAMPLER_PARAMS

    batch_size: int
    min_size: int | None

    def setup(self, buffer: ReplayMemory) -> None:
        self.memory = buffer
        self.generator = torch.Generator().manual_seed(self.seed)
        self._min = self.min_size if self.min_size is not None else self.batch_size

    def step(self) -> dict[str, Batch] | None:
        if len(self.memory) < self._min:
            return None
        indices = torch.randint(len(self.memory), (self.batch_size,),
                                generator=self.generator)  # drawn on the CPU: the same
        return {"batch": self.memory.gather(indices)}

    def state_dict(self) -> dict[str, Any]:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.generator.set_state(state["generator"])
