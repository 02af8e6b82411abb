"""The graph file format: located YAML -> GraphSpec, reporting every shape problem.

    name: dqn_target          # optional, defaults to the file name
    seed: 1                   # fanned out to a derived seed per node
    steps: 50000              # ticks to run
    nodes:
      <name>:
        type: <registered name or package.module:Class>
        params: {<param>: <value>, ...}
        in: {<input>: <node>.<port> | {from: <node>.<port>, delay: k, init: v}}
        every: N / after: N / until: N    # triggers, counted in ticks
        on: <node>.<port>                 # fire only on ticks where that output is present;
                                          # every/after/until then count those ticks
        repeat: N                         # when it fires, run it and its cone N times
    placement: {workers: N, ...}          # run on N worker processes too (core/placement.py)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import GraphError, Loc, choices_hint, shown
from .ports import ABSENT
from .yamlsrc import YMap

if TYPE_CHECKING:
    from .placement import Placement

TOP_LEVEL_KEYS = ("name", "description", "seed", "steps", "device", "nodes", "inputs", "outputs",
                  "params", "placement")
INTERFACE_KEYS = ("inputs", "outputs", "params")
NODE_KEYS = ("type", "params", "in", "every", "after", "until", "on", "repeat", "order")
ORDER_KEYS = ("after", "before")
EDGE_KEYS = ("from", "delay", "init")
# Nested names (agent_a.loss) come from subgraphs; resolved graphs write them back.
NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
EXAMPLE = "see graphs/dqn_target.yaml for a complete example"


@dataclass(frozen=True)
class PortRef:
    """`node.port` as written in the file; nested node names may contain dots."""

    node: str
    port: str
    loc: Loc

    def __str__(self) -> str:
        return f"{self.node}.{self.port}"


@dataclass
class EdgeSpec:
    """A wire from an output port to an input port."""

    src: PortRef
    dst_node: str
    dst_port: str
    loc: Loc  # where the input is written
    delay: int = 0
    init: Any = ABSENT  # value delivered before the delay has filled

    @property
    def delayed(self) -> bool:
        return self.delay > 0

    def describe(self) -> str:
        arrow = f" (delay {self.delay})" if self.delay else ""
        return f"{self.src} -> {self.dst_node}.{self.dst_port}{arrow}"


@dataclass
class Triggers:
    """When a node fires: counter >= after, counter < until, counter % every == 0.

    The counter is the tick number, or with `on` the number of earlier ticks on which
    the `on` output was present. With `repeat: n` the node and the nodes fed only by it
    (its cone: e.g. sampler -> loss -> optimizer) run n times whenever it fires."""

    every: int = 1
    after: int = 0
    until: int | None = None
    on: PortRef | None = None
    repeat: int = 1
    repeat_loc: Loc | None = None

    def describe(self) -> str:
        unit = "" if self.on is None else " events"
        parts = []
        if self.on is not None:
            parts.append(f"on {self.on}")
        if self.every != 1:
            parts.append(f"every {self.every}{unit}")
        if self.after:
            parts.append(f"after {self.after}{unit}")
        if self.until is not None:
            parts.append(f"until {self.until}{unit}")
        if self.repeat != 1:
            parts.append(f"× {self.repeat}")
        return " · ".join(parts)


@dataclass(frozen=True)
class NodeRef:
    """A node named in an `order:` list, where it is written."""

    node: str
    loc: Loc


@dataclass
class Order:
    """`order: {after: [a], before: [b]}`: this node runs after a and before b within a
    tick. A name may be a subgraph node (all of its nodes) or a node in a `repeat`
    burst (ordering against it orders against the whole burst)."""

    after: list[NodeRef] = field(default_factory=list)
    before: list[NodeRef] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.after or self.before)


@dataclass
class NodeSpec:
    name: str
    type: str
    loc: Loc  # the node's name in the file
    type_loc: Loc
    index: int  # position in the file; breaks scheduling ties
    params: YMap = field(default_factory=YMap)
    inputs: dict[str, EdgeSpec] = field(default_factory=dict)
    written_inputs: set[str] = field(default_factory=set)  # incl. wires that failed to parse
    triggers: Triggers = field(default_factory=Triggers)
    order: Order = field(default_factory=Order)

    def param_loc(self, key: str) -> Loc:
        return self.params.value_locs.get(key, self.params_loc)

    @property
    def params_loc(self) -> Loc:
        return getattr(self.params, "loc", self.loc)


@dataclass
class Interface:
    """What a graph file offers when it is used as a node type (a subgraph):

        inputs:  {outer_input: inner_node.input or a list of them}
        outputs: {outer_output: inner_node.output}
        params:  {outer_param: inner_node.param or a list of them}
    """

    inputs: dict[str, list[PortRef]] = field(default_factory=dict)
    outputs: dict[str, PortRef] = field(default_factory=dict)
    params: dict[str, list[PortRef]] = field(default_factory=dict)

    def refs(self) -> list[tuple[str, PortRef]]:
        """Every (section, inner reference) the interface makes."""
        return ([("inputs", r) for rs in self.inputs.values() for r in rs]
                + [("params", r) for rs in self.params.values() for r in rs]
                + [("outputs", r) for r in self.outputs.values()])

    def targets(self) -> set[tuple[str, str]]:
        """Inner (node, input) pairs fed from outside."""
        return {(r.node, r.port) for refs in self.inputs.values() for r in refs}


@dataclass
class GraphSpec:
    name: str
    file: str
    seed: int = 0
    steps: int | None = None
    device: str = "cpu"
    description: str = ""
    nodes: dict[str, NodeSpec] = field(default_factory=dict)
    base_dir: Path | None = None
    loc: Loc = field(default_factory=lambda: Loc("<graph>"))
    interface: Interface = field(default_factory=Interface)
    # After subgraph expansion: `agent.gamma` -> the inner params it sets (for --set).
    param_aliases: dict[str, list[PortRef]] = field(default_factory=dict)
    # Nodes written in the file that could not be read (an invalid name or body, a
    # subgraph file that is not a graph): reported there, so wires from them are not
    # reported again as wires from nodes that do not exist.
    unreadable: set[str] = field(default_factory=set)
    placement: Placement | None = None  # `placement:`: the graph runs on several processes

    def edges(self) -> list[EdgeSpec]:
        return [e for n in self.nodes.values() for e in n.inputs.values()]


DEVICE_RE = re.compile(r"^(cpu|auto|cuda|cuda:\d+|mps)$")
DEVICE_HINT = ("device: cpu (the default), cuda, cuda:N, mps, or auto "
               "(cuda when torch sees a GPU, else cpu)")


def device_problem(value: Any) -> str | None:
    """Why `value` is not a device name (None if it is one)."""
    if isinstance(value, str) and DEVICE_RE.match(value):
        return None
    return f"'device' must be cpu, cuda, cuda:N, mps or auto, got {shown(value)}"


def missing_interface_nodes(spec: GraphSpec) -> list[GraphError]:
    """Interface references to nodes the graph does not have."""
    return [GraphError(f"'{section}' of graph '{spec.name}' names a node '{ref.node}' that "
                       f"does not exist", ref.loc,
                       hint=choices_hint(ref.node, spec.nodes, "node names"))
            for section, ref in spec.interface.refs() if ref.node not in spec.nodes]


def set_param(params: YMap, key: str, value: Any, loc: Any) -> None:
    """Set a param in a located mapping, recording where the value came from."""
    params[key] = value
    params.value_locs[key] = loc
    params.key_locs.setdefault(key, loc)
