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

TOP_LEVEL_KEYS = ("name", "description", "seed", "steps", "device", "nodes", "inputs", "outputs",
                  "params")
INTERFACE_KEYS = ("inputs", "outputs", "params")
NODE_KEYS = ("type", "params", "in", "every", "after", "until", "on", "repeat")
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

    def edges(self) -> list[EdgeSpec]:
        return [e for n in self.nodes.values() for e in n.inputs.values()]


DEVICE_RE = re.compile(r"^(cpu|auto|cuda|cuda:\d+|mps)$")
DEVICE_HINT = ("device: cpu (the default), cuda, cuda:N, mps, or auto "
               "(cuda when torch sees a GPU, else cpu)")


def device_problem(value: Any) -> str | None:
    """Why `value` is not a device name (None if it is one)."""
    if isinstance(value, str) and DEVICE_RE.match(value):
        return None
    return f"'device' must be cpu, cuda, cuda:N, mps or auto, got {value!r}"


def missing_interface_nodes(spec: GraphSpec) -> list[GraphError]:
    """Interface references to nodes the graph does not have."""
    return [GraphError(f"'{section}' of graph '{spec.name}' names a node '{ref.node}' that "
                       f"does not exist", ref.loc,
                       hint=choices_hint(ref.node, spec.nodes, "node names"))
            for section, ref in spec.interface.refs() if ref.node not in spec.nodes]


def read_graph(path: str | Path, _including: tuple[Path, ...] = ()
               ) -> tuple[GraphSpec | None, list[GraphError]]:
    """Read and parse a graph file, expanding the subgraphs it uses; errors instead of
    exceptions for everything a user can cause."""
    path = Path(path)
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None, [GraphError(f"no such file: {file}", Loc(file))]
    except (OSError, UnicodeDecodeError) as exc:
        return None, [GraphError(f"cannot read {file}: {exc}", Loc(file))]
    return parse_graph(text, file, base_dir=path.resolve().parent,
                       _including=(*_including, path.resolve()))


def parse_graph(text: str, file: str = "<graph>", base_dir: Path | None = None,
                _including: tuple[Path, ...] = ()) -> tuple[GraphSpec | None, list[GraphError]]:
    data, errors = load_yaml(text, file)
    if data is None:
        return None, errors
    parser = _Parser(file, errors)
    spec = parser.graph(data)
    if spec is not None:
        spec.base_dir = base_dir
        from .subgraph import expand_subgraphs
        expand_subgraphs(spec, errors, _including)
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
        if "device" in data:
            spec.device = self.device(data["device"], data.value_loc("device"))
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
        spec.interface = self.interface(data)
        return spec

    def interface(self, data: YMap) -> Interface:
        iface = Interface()
        for section in INTERFACE_KEYS:
            if section not in data:
                continue
            table = data[section]
            if not isinstance(table, YMap):
                self.error(f"'{section}' must be a mapping of name: node.{section[:-1]}, got "
                           f"{_what(table)}", data.value_loc(section),
                           hint=f"e.g.  {section}: {{gamma: loss.gamma}}")
                continue
            for key, value in table.items():
                loc = table.value_loc(key)
                many = value if isinstance(value, YList) else [value]
                if section == "outputs" and isinstance(value, YList):
                    self.error(f"exported output '{key}' must name one inner output",
                               loc, hint="an output has one source: write node.port")
                    continue
                refs = [self.port_ref(None, key, v, loc_of(v, loc), what=section[:-1])
                        for v in many]
                if any(r is None for r in refs) or not refs:
                    continue
                if section == "outputs":
                    iface.outputs[key] = refs[0]
                else:
                    getattr(iface, section)[key] = refs  # type: ignore[arg-type]
        return iface

    def scalar(self, data: YMap, key: str, typ: type, default: Any) -> Any:
        if key not in data:
            return default
        value = data[key]
        if not isinstance(value, typ) or isinstance(value, bool) and typ is not bool:
            self.error(f"'{key}' must be a {typ.__name__}, got {_what(value)}",
                       data.value_loc(key))
            return default
        return value

    def device(self, value: Any, loc: Loc) -> str:
        problem = device_problem(value)
        if problem:
            self.error(problem, loc, hint=DEVICE_HINT)
            return "cpu"
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

    def port_ref(self, node: str | None, port: str, ref: Any, loc: Loc,
                 what: str = "input") -> PortRef | None:
        """`node.port` as a PortRef; `what` says which section the reference is in."""
        if isinstance(ref, str) and "." in ref.strip(".") and not ref.startswith("."):
            node_name, _, port_name = ref.rpartition(".")
            return PortRef(node_name, port_name, loc)
        if what == "input" and node is not None:
            target, hint = "an output as 'node.port'", ("e.g.  obs: env.obs   or   "
                                                        "{from: policy.action, delay: 1}")
        else:
            inner = "node.param" if what == "param" else "node.port"
            target, hint = f"an inner {what} as '{inner}'", f"e.g.  {port}: loss.{port}"
        self.error(f"{what} '{port}' must name {target}, got {_what(ref)}", loc_of(ref, loc),
                   node=node, port=port if node is not None else None, hint=hint)
        return None

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
