"""Small pure-Python nodes that exercise the engine without torch or gymnasium."""

from __future__ import annotations

from typing import Any

from rlgraph.core import In, Kind, Node, Out, Param


class Counter(Node):
    """Emits start, start+increment, ... one value per firing."""

    outputs = {"count": Out(Kind.SCALAR, "the current count")}
    params = {"start": Param(int, 0, "first value"),
              "increment": Param(int, 1, "added per firing", low=1)}

    def setup(self) -> None:
        self.value = self.start

    def step(self) -> dict[str, int]:
        out = self.value
        self.value += self.increment
        return {"count": out}

    def state_dict(self) -> dict[str, Any]:
        return {"value": self.value}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.value = state["value"]


class Adder(Node):
    """Emits a + b (+ offset); b is optional and counts as 0 when absent."""

    inputs = {"a": In(Kind.SCALAR, "first term"),
              "b": In(Kind.SCALAR, "second term", optional=True)}
    outputs = {"sum": Out(Kind.SCALAR, "a + b + offset")}
    params = {"offset": Param(float, 0.0, "added to every sum")}

    def step(self, a: float, b: float | None = None) -> dict[str, float]:
        return {"sum": a + (0 if b is None else b) + self.offset}


class Accumulator(Node):
    """Keeps a running total of its input and emits it."""

    inputs = {"x": In(Kind.SCALAR, "value to add")}
    outputs = {"total": Out(Kind.SCALAR, "running total", warn_unconnected=True)}

    def setup(self) -> None:
        self.total = 0.0

    def step(self, x: float) -> dict[str, float]:
        self.total += x
        return {"total": self.total}

    def state_dict(self) -> dict[str, Any]:
        return {"total": self.total}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.total = state["total"]


class DelayLine(Node):
    """Emits the value it received on its previous firing (absent on the first)."""

    inputs = {"x": In(Kind.SCALAR, "value to hold")}
    outputs = {"y": Out(Kind.SCALAR, "previous value")}

    def setup(self) -> None:
        self.held: list[Any] = []

    def step(self, x: Any) -> dict[str, Any] | None:
        self.held.append(x)
        return {"y": self.held.pop(0)} if len(self.held) > 1 else None


class Recorder(Node):
    """Records every value it receives, with the tick it arrived on."""

    inputs = {"x": In(Kind.ANY, "anything"),
              "aux": In(Kind.SCALAR, "optional extra", optional=True,
                        warn_unconnected=True)}

    def setup(self) -> None:
        self.seen: list[tuple[int, Any]] = []

    def step(self, x: Any, aux: Any = None) -> None:
        self.seen.append((self.clock.tick, x))


class Blob(Node):
    """Produces a static value at build (stands in for a network or a spec)."""

    outputs = {"module": Out(Kind.MODULE, "a build-time object")}
    params = {"size": Param(int, 3, "size of the object", low=1)}
    inputs = {"parent": In(Kind.MODULE, "another blob", optional=True)}

    def setup(self, parent: Any = None) -> dict[str, Any]:
        return {"module": {"size": self.size, "parent": parent}}


class UsesBlob(Node):
    """Reads a static module and a stream value; emits the module's size times x."""

    inputs = {"module": In(Kind.MODULE, "a blob"), "x": In(Kind.SCALAR, "a number")}
    outputs = {"y": Out(Kind.SCALAR, "size * x")}

    def setup(self, module: dict) -> None:
        self.size = module["size"]

    def step(self, x: float) -> dict[str, float]:
        return {"y": self.size * x}


class Ticker(Node):
    """Emits an event every `period` ticks (tick 0 excluded)."""

    outputs = {"event": Out(Kind.EVENT, "fires periodically")}
    params = {"period": Param(int, 3, "ticks between events", low=1)}

    def step(self) -> dict[str, int] | None:
        t = self.clock.tick
        return {"event": t} if t and t % self.period == 0 else None


class Fussy(Node):
    """Passes x through, but refuses values above `limit` as a wiring mistake."""

    inputs = {"x": In(Kind.SCALAR, "the value to check")}
    outputs = {"y": Out(Kind.SCALAR, "x, unchanged")}
    params = {"limit": Param(int, 2, "largest value accepted")}

    def step(self, x: int) -> dict[str, int]:
        if x > self.limit:
            self.fail(f"got {x}, more than limit {self.limit}", port="x",
                      hint="raise 'limit'")
        return {"y": x}


TOY_NODES = [Counter, Adder, Accumulator, DelayLine, Recorder, Blob, UsesBlob, Ticker,
             Fussy]


class Gain(Node):
    """Multiplies its input by a required factor."""

    inputs = {"x": In(Kind.SCALAR, "a number")}
    outputs = {"y": Out(Kind.SCALAR, "factor * x")}
    params = {"factor": Param(float, doc="the multiplier")}

    def step(self, x: float) -> dict[str, float]:
        return {"y": self.factor * x}


TOY_NODES.append(Gain)


class Critic(Node):
    """Produces a module that plays the 'critic' role (Q-values of Box actions)."""

    outputs = {"module": Out(Kind.MODULE, "a critic", role="critic")}

    def setup(self) -> dict[str, Any]:
        return {"module": "critic"}


class QUser(Node):
    """Takes a module that must be a Q-network; records its name."""

    inputs = {"q": In(Kind.MODULE, "a Q-network", role="q")}

    def setup(self, q: Any) -> None:
        self.q = q


class QNet(Node):
    """Produces a module that plays the 'q' role."""

    outputs = {"module": Out(Kind.MODULE, "a Q-network", role="q")}

    def setup(self) -> dict[str, Any]:
        return {"module": "q"}


class Copy(Node):
    """A copy of a module, of whatever role the module it copies has."""

    inputs = {"source": In(Kind.MODULE, "the module to copy")}
    outputs = {"module": Out(Kind.MODULE, "the copy", like="source")}

    def setup(self, source: Any) -> dict[str, Any]:
        return {"module": f"copy of {source}"}


class Trainer(Node):
    """Changes a blob's size each time it fires (stands in for an optimizer)."""

    inputs = {"module": In(Kind.MODULE, "the blob it changes", writes=True),
              "x": In(Kind.SCALAR, "how much to add")}

    def setup(self, module: dict) -> None:
        self.module = module

    def step(self, x: float) -> None:
        self.module["size"] += x


class Reads(Node):
    """Emits the size of a blob as it is when the node fires (a policy acting)."""

    inputs = {"module": In(Kind.MODULE, "the blob it reads"),
              "x": In(Kind.SCALAR, "any value: makes the node fire", optional=True)}
    outputs = {"size": Out(Kind.SCALAR, "the blob's size now")}

    def setup(self, module: dict) -> None:
        self.module = module

    def step(self, x: float | None = None) -> dict[str, float]:
        return {"size": self.module["size"]}


class Gate(Node):
    """Emits 1 per firing until the value fed back reaches `limit`; then nothing until
    the next tick (an early stop within a burst)."""

    inputs = {"feedback": In(Kind.SCALAR, "a value fed back", optional=True)}
    outputs = {"one": Out(Kind.SCALAR, "1, while open")}
    params = {"limit": Param(float, 3.0, "the feedback that closes the gate")}

    def setup(self) -> None:
        self.closed_at = -1  # the tick the gate closed on

    def step(self, feedback: float | None = None) -> dict[str, float] | None:
        if feedback is not None and feedback >= self.limit:
            self.closed_at = self.clock.tick
        if self.closed_at == self.clock.tick:
            return None
        return {"one": 1.0}


TOY_NODES += [Critic, QUser, QNet, Copy, Trainer, Reads, Gate]
