"""The parser of one graph file: located YAML data -> GraphSpec, reporting every shape
problem (unknown keys, wrong types, malformed wires) as a located GraphError. Subgraphs
named by the file are expanded afterwards (graphfile.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, overload

from .errors import GraphError, Loc, choices_hint, shown
from .placement import parse_placement
from .ports import INT_LIMIT, value_kind
from .spec import (
    DEVICE_HINT,
    EDGE_KEYS,
    EXAMPLE,
    INTERFACE_KEYS,
    NAME_RE,
    NODE_KEYS,
    ORDER_KEYS,
    TOP_LEVEL_KEYS,
    EdgeSpec,
    GraphSpec,
    Interface,
    NodeRef,
    NodeSpec,
    Order,
    PortRef,
    Triggers,
    device_problem,
)
from .yamlsrc import YList, YMap, loc_of


class Parser:
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
                self.error(f"unknown top-level key {shown(key)}", data.key_loc(key),
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
                else:
                    spec.unreadable.add(str(name))
        spec.interface = self.interface(data)
        if "placement" in data:
            spec.placement = parse_placement(self, data["placement"],
                                             data.value_loc("placement"))
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
                found = [self.port_ref(None, key, v, loc_of(v, loc), what=section[:-1])
                         for v in many]
                refs = [r for r in found if r is not None]
                if len(refs) < len(found) or not refs:
                    continue
                if section == "outputs":
                    iface.outputs[key] = refs[0]
                else:
                    getattr(iface, section)[key] = refs
        return iface

    def scalar(self, data: YMap, key: str, typ: type, default: Any) -> Any:
        if key not in data:
            return default
        value = data[key]
        if not isinstance(value, typ) or (isinstance(value, bool) and typ is not bool):
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

    @overload
    def integer(self, data: YMap, key: str, default: int, low: int,
                node: str | None = None) -> int: ...

    @overload
    def integer(self, data: YMap, key: str, default: None, low: int,
                node: str | None = None) -> int | None: ...

    def integer(self, data: YMap, key: str, default: int | None, low: int,
                node: str | None = None) -> int | None:
        if key not in data:
            return default
        value = data[key]
        problem = integer_problem(key, value, low)
        if problem:
            self.error(problem, data.value_loc(key), node=node)
            return default
        return value

    def node(self, name: str, body: Any, key_loc: Loc, value_loc: Loc,
             index: int) -> NodeSpec | None:
        if not NAME_RE.match(name):
            self.error(f"invalid node name {shown(name)}", key_loc,
                       node=name if len(name) <= 40 else f"{name[:40]}…",
                       hint="use letters, digits and underscores (dots separate node and port)")
            return None
        if not isinstance(body, YMap):
            self.error(f"a node must be a mapping with 'type:', got {_what(body)}",
                       loc_of(body, value_loc), node=name,
                       hint="e.g.  qnet: {type: MLP, in: {spec: env.spec}}")
            return None
        for key in body:
            if key not in NODE_KEYS:
                self.error(f"unknown key {shown(key)}", body.key_loc(key), node=name,
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
        if "order" in body:
            spec.order = self.order(name, body["order"], body.value_loc("order"))
        return spec

    def order(self, node: str, value: Any, loc: Loc) -> Order:
        """`order: {after: [a, b], before: c}`: node names, checked later."""
        order = Order()
        if not isinstance(value, YMap):
            self.error(f"'order' must be a mapping with 'after:' and/or 'before:', got "
                       f"{_what(value)}", loc_of(value, loc), node=node,
                       hint="e.g.  order: {before: [optim]}  (runs before optim in a tick)")
            return order
        for key, names in value.items():
            if key not in ORDER_KEYS:
                self.error(f"unknown key '{key}' in 'order'", value.key_loc(key), node=node,
                           hint=choices_hint(key, ORDER_KEYS, "order keys"))
                continue
            where = value.value_loc(key)
            items = names if isinstance(names, YList) else [names]
            locs = names.item_locs if isinstance(names, YList) else [where]
            for item, item_loc in zip(items, locs):
                if not isinstance(item, str) or not NAME_RE.match(item):
                    self.error(f"'order: {key}' must list node names, got {_what(item)}",
                               item_loc, node=node, hint=f"e.g.  order: {{{key}: [optim]}}")
                    continue
                getattr(order, key).append(NodeRef(item, item_loc))
        return order

    def edge(self, node: str, port: str, ref: Any, loc: Loc) -> EdgeSpec | None:
        if isinstance(ref, YMap):
            for key in ref:
                if key not in EDGE_KEYS:
                    self.error(f"unknown key {shown(key)} in the wire to input '{port}'",
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
        if isinstance(ref, str) and "." in ref.strip(".") and not ref.startswith(".") \
                and ref.isprintable():
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


def integer_problem(key: str, value: Any, low: int) -> str | None:
    """Why `value` is not an integer from `low` to INT_LIMIT (what torch and numpy seeds
    and counters hold), or None."""
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        return f"'{key}' must be an integer >= {low}, got {_what(value)}"
    if value > INT_LIMIT:
        return f"'{key}' must be at most 2**63 - 1, got a number of {len(str(value))} digits"
    return None


def _what(value: Any) -> str:
    """A value as an error message describes it: its kind, and a short excerpt."""
    if value is None:
        return "nothing"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return f"{value_kind(value)} {shown(value)}"
