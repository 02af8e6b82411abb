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
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import GraphError, Loc, choices_hint
from .ports import ABSENT
from .yamlsrc import YList, YMap, load_yaml, loc_of

TOP_LEVEL_KEYS = ("name", "description", "seed", "steps", "nodes")
NODE_KEYS = ("type", "params", "in", "every", "after", "until", "on", "repeat")
EDGE_KEYS = ("from", "delay", "init")
NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
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

    def param_loc(self, key: str) -> Loc:
        return self.params.value_locs.get(key, self.params_loc)

    @property
    def params_loc(self) -> Loc:
        return getattr(self.params, "loc", self.loc)


@dataclass
class GraphSpec:
    name: str
    file: str
    seed: int = 0
    steps: int | None = None
    description: str = ""
    nodes: dict[str, NodeSpec] = field(default_factory=dict)
    base_dir: Path | None = None
    loc: Loc = field(default_factory=lambda: Loc("<graph>"))

    def edges(self) -> list[EdgeSpec]:
        return [e for n in self.nodes.values() for e in n.inputs.values()]


def read_graph(path: str | Path) -> tuple[GraphSpec | None, list[GraphError]]:
    """Read and parse a graph file; errors instead of exceptions for everything a user can cause."""
    path = Path(path)
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, [GraphError(f"no such file: {file}", Loc(file))]
    except (OSError, UnicodeDecodeError) as exc:
        return None, [GraphError(f"cannot read {file}: {exc}", Loc(file))]
    return parse_graph(text, file, base_dir=path.resolve().parent)


def parse_graph(text: str, file: str = "<graph>",
                base_dir: Path | None = None) -> tuple[GraphSpec | None, list[GraphError]]:
    data, errors = load_yaml(text, file)
    if data is None:
        return None, errors
    parser = _Parser(file, errors)
    spec = parser.graph(data)
    if spec is not None:
        spec.base_dir = base_dir
    return spec, errors


class _Parser:
    def __init__(self, file: str, errors: list[GraphError]) -> None:
        self.file = file
        self.errors = errors

    def error(self, message: str, loc: Loc, *, node: str | None = None,
              port: str | None = None, hint: str | None = None) -> None:
        self.errors.append(GraphError(message, loc, node=node, port=port, hint=hint))

    def graph(self, data: Any) -> GraphSpec | None:
        top = Loc(self.file, 1, 1)
        if not isinstance(data, YMap):
            self.error(f"the top level must be a mapping with 'nodes:', got {_what(data)}",
                       loc_of(data, top), hint=EXAMPLE)
            return None
        for key in data:
            if key not in TOP_LEVEL_KEYS:
                self.error(f"unknown top-level key '{key}'", data.key_loc(key),
                           hint=choices_hint(key, TOP_LEVEL_KEYS, "top-level keys"))
        stem = Path(self.file).stem
        spec = GraphSpec(name=stem, file=self.file, loc=data.loc)
        spec.name = self.scalar(data, "name", str, stem)
        spec.description = self.scalar(data, "description", str, "")
        spec.seed = self.integer(data, "seed", 0, low=0)
        spec.steps = self.integer(data, "steps", None, low=1)
        nodes = data.get("nodes")
        if "nodes" not in data:
            self.error("the graph has no 'nodes:' section", data.loc, hint=EXAMPLE)
        elif not isinstance(nodes, YMap) or not nodes:
            self.error(f"'nodes' must be a non-empty mapping of node name -> node, got "
                       f"{_what(nodes)}", data.value_loc("nodes"), hint=EXAMPLE)
        else:
            for index, (name, body) in enumerate(nodes.items()):
                node = self.node(str(name), body, nodes.key_loc(name), nodes.value_loc(name),
                                 index)
                if node is not None:
                    spec.nodes[node.name] = node
        return spec

    def scalar(self, data: YMap, key: str, typ: type, default: Any) -> Any:
        if key not in data:
            return default
        value = data[key]
        if not isinstance(value, typ) or isinstance(value, bool) and typ is not bool:
            self.error(f"'{key}' must be a {typ.__name__}, got {_what(value)}",
                       data.value_loc(key))
            return default
        return value

    def integer(self, data: YMap, key: str, default: int | None, low: int,
                node: str | None = None) -> int | None:
        if key not in data:
            return default
        value = data[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            self.error(f"'{key}' must be an integer >= {low}, got {_what(value)}",
                       data.value_loc(key), node=node)
            return default
        return value

    def node(self, name: str, body: Any, key_loc: Loc, value_loc: Loc,
             index: int) -> NodeSpec | None:
        if not NAME_RE.match(name):
            self.error(f"invalid node name '{name}'", key_loc, node=name,
                       hint="use letters, digits and underscores (dots separate node and port)")
            return None
        if not isinstance(body, YMap):
            self.error(f"a node must be a mapping with 'type:', got {_what(body)}",
                       loc_of(body, value_loc), node=name,
                       hint="e.g.  qnet: {type: MLP, in: {spec: env.spec}}")
            return None
        for key in body:
            if key not in NODE_KEYS:
                self.error(f"unknown key '{key}'", body.key_loc(key), node=name,
                           hint=choices_hint(key, NODE_KEYS, "node keys")
                           + " (parameters go under 'params:')")
        type_name = body.get("type")
        if not isinstance(type_name, str) or not type_name:
            self.error("the node has no 'type:'" if "type" not in body
                       else f"'type' must be a node type name, got {_what(type_name)}",
                       body.value_loc("type") if "type" in body else key_loc, node=name,
                       hint="run `rlgraph nodes` to list the node types")
            type_name = ""
        spec = NodeSpec(name=name, type=type_name, loc=key_loc,
                        type_loc=body.value_loc("type"), index=index)
        params = body.get("params", None)
        if params is not None and not isinstance(params, YMap):
            self.error(f"'params' must be a mapping of name: value, got {_what(params)}",
                       body.value_loc("params"), node=name)
        elif params is not None:
            spec.params = params
        else:
            spec.params = YMap()
            spec.params.loc, spec.params.key_locs, spec.params.value_locs = key_loc, {}, {}
        wires = body.get("in")
        if wires is not None and not isinstance(wires, YMap):
            self.error(f"'in' must be a mapping of input: node.port, got {_what(wires)}",
                       body.value_loc("in"), node=name)
        elif wires:
            spec.written_inputs = set(wires)
            for port, ref in wires.items():
                edge = self.edge(name, str(port), ref, wires.value_loc(port))
                if edge is not None:
                    spec.inputs[str(port)] = edge
        spec.triggers = self.triggers(name, body)
        return spec

    def edge(self, node: str, port: str, ref: Any, loc: Loc) -> EdgeSpec | None:
        if isinstance(ref, YMap):
            for key in ref:
                if key not in EDGE_KEYS:
                    self.error(f"unknown key '{key}' in the wire to input '{port}'",
                               ref.key_loc(key), node=node, port=port,
                               hint=choices_hint(key, EDGE_KEYS, "wire keys"))
            if "from" not in ref:
                self.error(f"the wire to input '{port}' has no 'from:'", ref.loc, node=node,
                           port=port, hint="write {from: node.port, delay: 1}")
                return None
            src = self.port_ref(node, port, ref["from"], ref.value_loc("from"))
            if src is None:
                return None
            edge = EdgeSpec(src=src, dst_node=node, dst_port=port, loc=loc)
            if "delay" in ref:
                delay = ref["delay"]
                if isinstance(delay, bool) or not isinstance(delay, int) or delay < 1:
                    self.error(f"'delay' must be an integer >= 1, got {_what(delay)}",
                               ref.value_loc("delay"), node=node, port=port,
                               hint="delay: 1 delivers what the source emitted on the "
                                    "previous tick")
                    delay = 1  # the wire was meant to be delayed: check the rest as such
                edge.delay = delay
            if "init" in ref:
                if "delay" not in ref:
                    self.error("'init' only applies to a delayed wire", ref.key_loc("init"),
                               node=node, port=port, hint="add 'delay: 1' or remove 'init'")
                edge.init = ref["init"]
            return edge
        src = self.port_ref(node, port, ref, loc)
        return None if src is None else EdgeSpec(src=src, dst_node=node, dst_port=port, loc=loc)

    def port_ref(self, node: str, port: str, ref: Any, loc: Loc) -> PortRef | None:
        if not isinstance(ref, str) or "." not in ref or ref.startswith(".") or ref.endswith("."):
            self.error(f"input '{port}' must name an output as 'node.port', got {_what(ref)}",
                       loc_of(ref, loc), node=node, port=port,
                       hint="e.g.  obs: env.obs   or   {from: policy.action, delay: 1}")
            return None
        src_node, _, src_port = ref.rpartition(".")
        return PortRef(src_node, src_port, loc)

    def triggers(self, node: str, body: YMap) -> Triggers:
        trig = Triggers()
        trig.every = self.integer(body, "every", 1, low=1, node=node)
        trig.after = self.integer(body, "after", 0, low=0, node=node)
        trig.until = self.integer(body, "until", None, low=1, node=node)
        if trig.until is not None and trig.until <= trig.after:
            self.error(f"'until' ({trig.until}) must be greater than 'after' ({trig.after})",
                       body.value_loc("until"), node=node,
                       hint="the node would never fire")
        trig.repeat = self.integer(body, "repeat", 1, low=1, node=node)
        if "repeat" in body:
            trig.repeat_loc = body.value_loc("repeat")
        if "on" in body:
            trig.on = self.port_ref(node, "on", body["on"], body.value_loc("on"))
        return trig


def _what(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"{type(value).__name__} {value!r}"
