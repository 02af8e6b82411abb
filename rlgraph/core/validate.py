"""Checks of a parsed graph against its node classes: everything before any build.

Each check is a function over the spec and the resolved classes that appends located
GraphErrors (or GraphWarnings); `check_graph` runs all of them so that a user sees
every problem of a file at once.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

import networkx as nx

from .errors import GraphError, GraphWarning, choices_hint, did_you_mean, shown
from .node import Node
from .ordering import (
    check_order_names,
    find_order_cycles,
    find_stale_gradients,
    find_unordered_updates,
)
from .overrides import TRIGGER_KEYS
from .placement import check_placement
from .ports import ROLES, In, Kind, Out, kinds_compatible
from .protocols import Environment, RowSource
from .registry import REGISTRY, Registry, RegistryError
from .schedule import dependency_edges, dependency_graph, mixed_consumers, repeat_cones
from .spec import EdgeSpec, GraphSpec, NodeSpec, PortRef, missing_interface_nodes


@dataclass
class CheckedGraph:
    """A spec with its node classes and everything found wrong with it."""

    spec: GraphSpec
    classes: dict[str, type[Node]] = field(default_factory=dict)
    errors: list[GraphError] = field(default_factory=list)
    warnings: list[GraphWarning] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


def check_graph(spec: GraphSpec, registry: Registry = REGISTRY) -> CheckedGraph:
    checked = CheckedGraph(spec)
    checked.classes = resolve_types(spec, registry, checked.errors)
    for node in spec.nodes.values():
        cls = checked.classes.get(node.name)
        if cls is not None:
            check_params(node, cls, checked.errors)
            check_required_inputs(spec, node, cls, checked.classes, checked.errors)
        for edge in node.inputs.values():
            check_edge(spec, edge, checked.classes, checked.errors)
        if node.triggers.on is not None:
            check_on_trigger(spec, node, checked.classes, checked.errors)
    check_interface(spec, checked.classes, checked.errors)
    check_order_names(spec, checked.errors)
    checked.errors.extend(find_stream_cycles(spec, checked.classes))
    checked.errors.extend(find_build_cycles(spec, checked.classes))
    checked.warnings.extend(find_suspicious_wiring(spec, checked.classes))
    checked.warnings.extend(find_params_past_their_source(spec, checked.classes))
    checked.warnings.extend(find_untrained(spec, checked.classes))
    checked.warnings.extend(find_missing_metrics(spec, checked.classes))
    # the checks below need every node's class (a node whose type did not parse has
    # none) and an acyclic tick
    whole = not checked.errors and set(checked.classes) == set(spec.nodes)
    if whole:
        checked.errors.extend(find_order_cycles(spec, checked.classes))
    if whole and not checked.errors:
        checked.errors.extend(find_unordered_updates(spec, checked.classes))
        checked.errors.extend(find_stale_gradients(spec, checked.classes))
    if set(checked.classes) == set(spec.nodes):
        check_placement(spec, checked.classes, checked.errors, checked.warnings)
    if whole and not checked.errors and any(n.triggers.repeat > 1
                                            for n in spec.nodes.values()):
        check_repeats(spec, checked.classes, checked.errors, checked.warnings)
    return checked


def resolve_types(spec: GraphSpec, registry: Registry,
                  errors: list[GraphError]) -> dict[str, type[Node]]:
    classes: dict[str, type[Node]] = {}
    for node in spec.nodes.values():
        if not node.type:
            continue  # reported by the parser
        try:
            classes[node.name] = registry.resolve(node.type, spec.base_dir)
        except RegistryError as exc:
            errors.append(GraphError(exc.message, node.type_loc, node=node.name, hint=exc.hint))
    return classes


def check_params(node: NodeSpec, cls: type[Node], errors: list[GraphError]) -> None:
    for key, value in node.params.items():
        decl = cls.params.get(key)
        if decl is None:
            trigger = difflib.get_close_matches(key, TRIGGER_KEYS, n=1)
            hint = choices_hint(key, cls.params, "params") if not trigger or \
                did_you_mean(key, cls.params) else \
                f"did you mean the trigger '{trigger[0]}'? Triggers ({', '.join(TRIGGER_KEYS)})" \
                f" sit beside 'params:' in the node (--set {node.name}.{trigger[0]}=...)"
            errors.append(GraphError(
                f"{cls.__name__} has no param {shown(key)}", node.params.key_loc(key),
                node=node.name,
                hint=hint
                + (f" ('{key}' is an input: wire it under 'in:')" if key in cls.inputs else "")))
            continue
        checked, problem = decl.check(value)
        if problem:
            errors.append(GraphError(f"param '{key}' {problem}", node.param_loc(key),
                                     node=node.name,
                                     hint=f"{key}: {decl.describe()}"
                                     + (f" — {decl.doc}" if decl.doc else "")))
        elif not decl.schedule:  # a schedule stays as written, for the resolved graph
            node.params[key] = checked
    for key, decl in cls.params.items():
        if decl.required and key not in node.params:
            errors.append(GraphError(
                f"missing required param '{key}' of {cls.__name__}", node.params_loc,
                node=node.name, hint=f"add it under params: {key}: ...  ({decl.doc})"))


def check_interface(spec: GraphSpec, classes: dict[str, type[Node]],
                    errors: list[GraphError]) -> None:
    """A subgraph file's exported inputs, outputs and params name real inner ports."""
    errors.extend(missing_interface_nodes(spec))
    for section, ref in spec.interface.refs():
        cls = classes.get(ref.node)
        if cls is not None and ref.port not in getattr(cls, section):
            errors.append(GraphError(
                f"'{section}' names '{ref}', but {cls.__name__} has no {section[:-1]} "
                f"'{ref.port}'", ref.loc, node=ref.node,
                hint=choices_hint(ref.port, getattr(cls, section), section)))


def check_required_inputs(spec: GraphSpec, node: NodeSpec, cls: type[Node],
                          classes: dict[str, type[Node]], errors: list[GraphError]) -> None:
    misspelled = {close for written in node.written_inputs - set(cls.inputs)
                  for close in difflib.get_close_matches(written, cls.inputs, n=1)}
    from_outside = spec.interface.targets()  # a subgraph file's exported inputs
    for port, decl in cls.inputs.items():
        if (decl.optional or port in node.written_inputs or port in misspelled
                or (node.name, port) in from_outside):
            continue  # a misspelled or malformed wire is reported where it is written
        candidates = [f"{other}.{name}" for other, ocls in classes.items() if other != node.name
                      for name, out in ocls.outputs.items() if _can_feed(out, decl)]
        hint = f"connect it under 'in:', e.g.  {port}: {candidates[0]}" if candidates else \
            f"add a node with a {decl.kind} output and wire it to '{port}'"
        errors.append(GraphError(f"required input '{port}' ({decl.kind}) is not connected",
                                 node.loc, node=node.name, port=port, hint=hint))


def _can_feed(out: Out, inp: In) -> bool:
    return out.static == inp.static and (out.kind == inp.kind)


def _lookup_output(spec: GraphSpec, ref: PortRef, classes: dict[str, type[Node]],
                   errors: list[GraphError], node: str, port: str) -> Out | None:
    """The declaration of the output `ref` names, or an error saying why there is none."""
    if ref.node in spec.unreadable:
        return None  # the node is written but could not be read; reported there
    if ref.node not in spec.nodes:
        errors.append(GraphError(f"'{ref}' refers to a node '{ref.node}' that does not exist",
                                 ref.loc, node=node, port=port,
                                 hint=choices_hint(ref.node, spec.nodes, "node names")))
        return None
    src_cls = classes.get(ref.node)
    if src_cls is None:
        return None  # its type failed to resolve; reported there
    out = src_cls.outputs.get(ref.port)
    if out is None:
        errors.append(GraphError(
            f"node '{ref.node}' ({src_cls.__name__}) has no output '{ref.port}'", ref.loc,
            node=node, port=port, hint=choices_hint(ref.port, src_cls.outputs, "outputs")))
    return out


def check_edge(spec: GraphSpec, edge: EdgeSpec, classes: dict[str, type[Node]],
               errors: list[GraphError]) -> None:
    dst_cls = classes.get(edge.dst_node)
    decl = None
    if dst_cls is not None:
        decl = dst_cls.inputs.get(edge.dst_port)
        if decl is None:
            errors.append(GraphError(
                f"{dst_cls.__name__} has no input '{edge.dst_port}'", edge.loc,
                node=edge.dst_node, port=edge.dst_port,
                hint=choices_hint(edge.dst_port, dst_cls.inputs, "inputs")
                + (" (it is a param: set it under 'params:')"
                   if edge.dst_port in dst_cls.params else "")))
    out = _lookup_output(spec, edge.src, classes, errors, edge.dst_node, edge.dst_port)
    if out is None or decl is None:
        return
    dst = f"{edge.dst_node}.{edge.dst_port}"
    if not kinds_compatible(out.kind, decl.kind):
        errors.append(GraphError(
            f"kind mismatch: output '{edge.src}' is {out.kind} but input '{dst}' expects "
            f"{decl.kind}", edge.loc, node=edge.dst_node, port=edge.dst_port,
            hint=_kind_hint(spec, classes, edge, decl)))
    elif out.static != decl.static:
        src_is = "static (fixed at build)" if out.static else "a per-tick stream"
        dst_is = "a static value" if decl.static else "a per-tick stream"
        errors.append(GraphError(
            f"output '{edge.src}' is {src_is} but input '{dst}' expects {dst_is}", edge.loc,
            node=edge.dst_node, port=edge.dst_port,
            hint="connect a port of the same timing; static ports carry modules, specs, "
                 "buffers"))
    elif edge.delayed and decl.static:
        errors.append(GraphError(
            f"static input '{dst}' cannot be delayed: its value is fixed at build",
            edge.loc, node=edge.dst_node, port=edge.dst_port, hint="remove 'delay'"))
    elif decl.roles:
        roles = module_roles(spec, classes, edge.src)
        if roles and not set(roles) & set(decl.roles):
            errors.append(GraphError(
                f"module role mismatch: '{edge.src}' is {_roles_text(roles)} but input "
                f"'{dst}' takes {_roles_text(decl.roles)}", edge.loc, node=edge.dst_node,
                port=edge.dst_port, hint=_role_hint(spec, classes, edge, decl)))


def module_roles(spec: GraphSpec, classes: dict[str, type[Node]], ref: PortRef,
                 seen: frozenset[str] = frozenset()) -> tuple[str, ...]:
    """The roles of the module output `ref` names: declared on the output, or (`like`)
    those of what feeds the input it copies; () when nobody declared one."""
    cls = classes.get(ref.node)
    out = cls.outputs.get(ref.port) if cls is not None else None
    if out is None or not isinstance(out, Out):
        return ()
    if out.roles or out.like is None or ref.node in seen:
        return out.roles
    edge = spec.nodes[ref.node].inputs.get(out.like)
    if edge is None or edge.src.node not in spec.nodes:
        return ()
    return module_roles(spec, classes, edge.src, seen | {ref.node})


def _roles_text(roles: tuple[str, ...]) -> str:
    return " or ".join(f"a '{r}' module ({ROLES[r].split(':')[0]})" for r in roles)


def _role_hint(spec: GraphSpec, classes: dict[str, type[Node]], edge: EdgeSpec,
               decl: In) -> str:
    fits = [f"{name}.{port}" for name, cls in classes.items() if name != edge.dst_node
            for port, out in cls.outputs.items() if out.kind is Kind.MODULE
            and set(module_roles(spec, classes, PortRef(name, port, edge.loc)))
            & set(decl.roles)]
    if fits:
        return "a module output of that role in this graph: " + ", ".join(fits[:3])
    return f"add a network node whose module output is a '{decl.roles[0]}' module"


def _kind_hint(spec: GraphSpec, classes: dict[str, type[Node]], edge: EdgeSpec,
               decl: In) -> str:
    src_cls = classes[edge.src.node]
    same_node = [name for name, out in src_cls.outputs.items() if _can_feed(out, decl)]
    if same_node:
        return f"node '{edge.src.node}' has a {decl.kind} output: {edge.src.node}.{same_node[0]}"
    others = [f"{n}.{p}" for n, c in classes.items() if n != edge.dst_node
              for p, out in c.outputs.items() if _can_feed(out, decl)]
    if others:
        return f"a {decl.kind} output in this graph: {others[0]}"
    return f"wire an output of kind {decl.kind}"


def check_on_trigger(spec: GraphSpec, node: NodeSpec, classes: dict[str, type[Node]],
                     errors: list[GraphError]) -> None:
    ref = node.triggers.on
    assert ref is not None
    out = _lookup_output(spec, ref, classes, errors, node.name, "on")
    if out is not None and out.static:
        errors.append(GraphError(f"'on: {ref}' names a static output, which never changes",
                                 ref.loc, node=node.name, port="on",
                                 hint="trigger on a stream output such as an event"))


def check_repeats(spec: GraphSpec, classes: dict[str, type[Node]],
                  errors: list[GraphError], warnings: list[GraphWarning]) -> None:
    """`repeat` runs a node and its cone again; cones may not nest, and nodes that read
    from a cone and from elsewhere are worth a word (they run once, after), as are
    delayed wires out of a cone (they carry only the last repetition's value; a delayed
    wire inside one counts repetitions, see ticks.DelayLine)."""
    cones = repeat_cones(spec, classes)
    for root, cone in cones.items():
        for name in cone:
            trig = spec.nodes[name].triggers
            if trig.repeat > 1:
                errors.append(GraphError(
                    f"'repeat' inside the part of the graph that '{root}' already repeats "
                    f"({spec.nodes[root].triggers.repeat} times)", trig.repeat_loc,
                    node=name, hint=f"set the total on '{root}' and remove this one"))
    for root, cone in cones.items():
        members, n = {root, *cone}, spec.nodes[root].triggers.repeat
        for edge in spec.edges():
            if edge.delayed and edge.src.node in members and edge.dst_node not in members:
                warnings.append(GraphWarning(
                    f"delayed wire from '{edge.src}', which '{root}' repeats {n} times per "
                    f"tick: a delay carries one value per tick, so only the last "
                    f"repetition's value arrives", edge.loc, node=edge.dst_node,
                    port=edge.dst_port,
                    hint=f"fire '{root}' once per tick (e.g. 'every: k' instead of "
                         f"'repeat: {n}'), or read the value inside the repeated part"))
    for root, readers in mixed_consumers(spec, classes, cones).items():
        n = spec.nodes[root].triggers.repeat
        for name in readers:
            warnings.append(GraphWarning(
                f"reads from the part of the graph that '{root}' repeats {n} times and from "
                f"outside it, so it runs once per tick after the repetitions and sees only "
                f"the last values", spec.nodes[name].loc, node=name,
                hint="wire it only from the repeated part to run it every repetition"))


def find_stream_cycles(spec: GraphSpec, classes: dict[str, type[Node]]) -> list[GraphError]:
    """A loop of non-delayed stream wires cannot be ordered within a tick."""
    g = dependency_graph(spec, classes, static=False)
    return [_cycle_error(spec, g, component, static=False)
            for component in _cyclic_components(g)]


def find_build_cycles(spec: GraphSpec, classes: dict[str, type[Node]]) -> list[GraphError]:
    """A loop of static wires cannot be built: no node in it can be constructed first."""
    g = dependency_graph(spec, classes, static=True)
    return [_cycle_error(spec, g, component, static=True)
            for component in _cyclic_components(g)]


def _cyclic_components(g: nx.MultiDiGraph) -> list[set[str]]:
    return [c for c in nx.strongly_connected_components(g)
            if len(c) > 1 or g.has_edge(next(iter(c)), next(iter(c)))]


def _cycle_error(spec: GraphSpec, g: nx.MultiDiGraph, component: set[str],
                 static: bool) -> GraphError:
    sub = g.subgraph(component)
    start = min(component, key=lambda n: spec.nodes[n].index)
    hops: list[EdgeSpec] = [sub.edges[u, v, k]["edge"]
                            for u, v, k in nx.find_cycle(sub, source=start)]
    lines = "\n".join(f"      {h.describe()}   (line {h.loc.line})" for h in hops)
    first = min(hops, key=lambda h: (h.loc.line, h.loc.col))
    if static:
        return GraphError(
            f"build cycle through static wires; no node in it can be built first:\n{lines}",
            first.loc, node=first.dst_node, port=first.dst_port,
            hint="static values (modules, specs, buffers) cannot be delayed; remove one of "
                 "these wires")
    # The wire that runs against the file's order is the natural place for a delay
    # (env reads policy.action: the policy is written after the env).
    backward = [h for h in hops
                if spec.nodes[h.src.node].index >= spec.nodes[h.dst_node].index]
    suggest = backward[0] if backward else hops[-1]
    return GraphError(
        f"cycle of stream wires without a delay:\n{lines}", suggest.loc,
        node=suggest.dst_node, port=suggest.dst_port,
        hint=f"feedback needs a delayed wire; e.g. write  {suggest.dst_port}: "
             f"{{from: {suggest.src}, delay: 1}}  (line {suggest.loc.line})")


def find_params_past_their_source(spec: GraphSpec, classes: dict[str, type[Node]]
                                  ) -> list[GraphWarning]:
    """Params declared `at_most="input.param"` that exceed that param of the node wired
    to the input: runnable, but the node would wait forever (a batch larger than the
    buffer it samples can ever hold)."""
    warnings: list[GraphWarning] = []
    for node in spec.nodes.values():
        cls = classes.get(node.name)
        for key, decl in (cls.params.items() if cls is not None else ()):
            value = node.params.get(key, decl.default)
            if decl.at_most is None or value is None:
                continue
            port, _, limit_key = decl.at_most.partition(".")
            edge = node.inputs.get(port)
            source = spec.nodes.get(edge.src.node) if edge is not None else None
            source_cls = classes.get(source.name) if source is not None else None
            if source is None or source_cls is None or limit_key not in source_cls.params:
                continue
            limit = source.params.get(limit_key, source_cls.params[limit_key].default)
            if all(isinstance(v, int) and not isinstance(v, bool) for v in (value, limit)) \
                    and value > limit:
                warnings.append(GraphWarning(
                    f"{key} {value:,} is larger than the {limit_key} {limit:,} of "
                    f"'{source.name}', which it reads through '{port}': it never gets "
                    f"that many and never fires", node.param_loc(key), node=node.name,
                    hint=f"lower {key} or raise {source.name}.{limit_key}"))
    return warnings


def find_suspicious_wiring(spec: GraphSpec,
                           classes: dict[str, type[Node]]) -> list[GraphWarning]:
    warnings: list[GraphWarning] = []
    consumed = {(e.src.node, e.src.port) for e in dependency_edges(spec, classes)}
    for node in spec.nodes.values():
        cls = classes.get(node.name)
        if cls is None:
            continue
        for port, decl in cls.inputs.items():
            if decl.optional and decl.warn_unconnected and port not in node.inputs:
                warnings.append(GraphWarning(
                    f"optional input '{port}' is not connected: {decl.doc}", node.loc,
                    node=node.name, port=port,
                    hint="wire it under 'in:' unless this is on purpose"))
        for port, out in cls.outputs.items():
            if out.warn_unconnected and (node.name, port) not in consumed:
                warnings.append(GraphWarning(
                    f"output '{port}' is not used by any node: {out.doc}", node.loc,
                    node=node.name, port=port))
    return warnings



def find_untrained(spec: GraphSpec, classes: dict[str, type[Node]]) -> list[GraphWarning]:
    """What validates but trains nothing: a loss (a node that differentiates through a
    module, `grad=True`) from which no wire leads to an optimizer (a node that changes a
    module, `writes=True`), and a network no optimizer updates. What a subgraph file
    exports may be trained where it is used, and is left alone."""
    def is_optimizer(cls: type[Node] | None) -> bool:
        return cls is not None and any(d.writes for d in cls.inputs.values())

    exported = {(r.node, r.port) for section, r in spec.interface.refs()
                if section == "outputs"}

    stream_to: dict[str, set[str]] = {}
    for edge in spec.edges():
        cls = classes.get(edge.dst_node)
        decl = cls.inputs.get(edge.dst_port) if cls is not None else None
        if decl is not None and not decl.static:
            stream_to.setdefault(edge.src.node, set()).add(edge.dst_node)
    warnings: list[GraphWarning] = []
    for node in spec.nodes.values():
        cls = classes.get(node.name)
        if cls is None or not any(d.grad for d in cls.inputs.values()):
            continue
        seen, todo = {node.name}, [node.name]
        while todo:
            for nxt in stream_to.get(todo.pop(), ()):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        if not any(is_optimizer(classes.get(n)) for n in seen) \
                and not any(name in seen for name, _ in exported):
            loss = next((p for p, o in cls.outputs.items() if o.kind is Kind.SCALAR), "loss")
            warnings.append(GraphWarning(
                "this loss reaches no optimizer: no wire leads from it to a node that "
                "updates a network, so nothing is trained on it", node.loc, node=node.name,
                hint=f"wire it into an optimizer, e.g.  optim: {{type: Adam, in: {{loss: "
                     f"{node.name}.{loss}, module: <the network>}}}}"))
    trained = {(e.src.node, e.src.port) for e in spec.edges()
               if (cls := classes.get(e.dst_node)) is not None
               and (decl := cls.inputs.get(e.dst_port)) is not None and decl.writes}
    for node in spec.nodes.values():
        cls = classes.get(node.name)
        for port, out in (cls.outputs.items() if cls is not None else ()):
            if out.kind is Kind.MODULE and out.like is None \
                    and (node.name, port) not in trained | exported \
                    and any(e.src.node == node.name and e.src.port == port
                            for e in spec.edges()):
                warnings.append(GraphWarning(
                    f"network '{node.name}.{port}' is updated by no optimizer: it keeps its "
                    f"initial weights", node.loc, node=node.name, port=port,
                    hint=f"wire an optimizer's module input to {node.name}.{port}, unless "
                         f"it is meant to stay fixed (an optimizer node declares the module it "
                         f"updates: In(Kind.MODULE, writes=True))"))
    return warnings


def find_missing_metrics(spec: GraphSpec,
                         classes: dict[str, type[Node]]) -> list[GraphWarning]:
    """A graph with an environment but no node that keeps episode rows for metrics.csv:
    its runs would log no returns, and `rlgraph plot` would have nothing to draw."""
    if any(issubclass(c, RowSource) and c.log_name == "metrics" for c in classes.values()):
        return []
    envs = [spec.nodes[n] for n, c in classes.items() if issubclass(c, Environment)]
    return [GraphWarning(
        "no Metrics node: a run of this graph writes no metrics.csv (episode returns), so "
        "its progress shows no return and `rlgraph plot` has no curve to draw", env.loc,
        node=env.name, hint=f"add  metrics: {{type: Metrics, in: {{episode: "
                            f"{env.name}.episode_end}}}}") for env in envs[:1]]
