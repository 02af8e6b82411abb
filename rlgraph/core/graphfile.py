"""A graph file as a GraphSpec: read it, parse it, and expand the subgraphs it uses.

A subgraph is a graph file used as a node type (`type: ./dqn_learner.yaml`). Expansion
happens on the spec, before any check: each subgraph node `agent` is replaced by the
subgraph's own nodes, renamed `agent.<inner>`. Wires into `agent.<input>` go to the
inner inputs its interface names, params given to `agent` set the inner params its
interface names, and references to `agent.<output>` are redirected to the inner output.
The rest of rlgraph (checks, schedule, executor, drawings, --set) then sees plain nodes
with nested names.
"""

from __future__ import annotations

import difflib
from dataclasses import replace
from pathlib import Path

from .errors import GraphError, Loc, choices_hint
from .parse import Parser
from .spec import (
    EdgeSpec,
    GraphSpec,
    NodeRef,
    NodeSpec,
    Order,
    PortRef,
    missing_interface_nodes,
    set_param,
)
from .yamlsrc import MAX_FILE_BYTES, YMap, decode, load_yaml

SUBGRAPH_SUFFIXES = (".yaml", ".yml")


def read_graph(path: str | Path, _including: tuple[Path, ...] = ()
               ) -> tuple[GraphSpec | None, list[GraphError]]:
    """Read and parse a graph file, expanding the subgraphs it uses; errors instead of
    exceptions for everything a user can cause."""
    path = Path(path)
    file = str(path)
    data, problem = read_bytes(path)
    if data is None:
        return None, [GraphError(problem or "", Loc(file))]
    text, errors = decode(data, file)
    if text is None:
        return None, errors
    return parse_graph(text, file, base_dir=resolved(path).parent,
                       _including=(*_including, resolved(path)))


def resolved(path: Path) -> Path:
    """The absolute path with symlinks followed as far as they go (a symlink loop stops
    where it loops, and is reported when the file is read)."""
    try:
        return path.resolve()
    except (OSError, RuntimeError):  # Python 3.11 raises RuntimeError for a loop
        return path.absolute()


def read_bytes(path: Path) -> tuple[bytes | None, str | None]:
    """The file's bytes, at most MAX_FILE_BYTES + 1 of them (so a size check sees a
    larger file as too large, whatever it is); or (None, why not)."""
    try:
        if not path.exists():
            return None, f"no such file: {path}"
        if not path.is_file():  # a folder, a FIFO (reading would wait forever), a device
            what = "a folder" if path.is_dir() else "not a regular file"
            return None, f"cannot read {path}: it is {what}"
        with open(path, "rb") as f:
            return f.read(MAX_FILE_BYTES + 1), None
    except OSError as exc:  # no permission, a symlink loop, ...
        return None, f"cannot read {path}: {exc.strerror or exc}"


def parse_graph(text: str, file: str = "<graph>", base_dir: Path | None = None,
                _including: tuple[Path, ...] = ()) -> tuple[GraphSpec | None, list[GraphError]]:
    """Parse graph text (`file` names it in errors; `base_dir` is where the subgraphs and
    custom node modules it names are looked up)."""
    data, errors = load_yaml(text, file)
    if data is None:
        return None, errors
    parser = Parser(file, errors)
    spec = parser.graph(data)
    if spec is not None:
        spec.base_dir = base_dir
        expand_subgraphs(spec, errors, _including)
    return spec, errors



def is_subgraph_type(type_name: str) -> bool:
    return type_name.endswith(SUBGRAPH_SUFFIXES)


def expand_subgraphs(spec: GraphSpec, errors: list[GraphError],
                     including: tuple[Path, ...]) -> None:
    """Replace every subgraph node of `spec` by its inner nodes, in place."""
    if not any(is_subgraph_type(n.type) for n in spec.nodes.values()):
        return
    nodes: dict[str, NodeSpec] = {}
    outputs: dict[tuple[str, str], PortRef] = {}
    inputs: dict[tuple[str, str], list[PortRef]] = {}
    for node in spec.nodes.values():
        if not is_subgraph_type(node.type):
            nodes[node.name] = node
            continue
        path = (spec.base_dir or Path.cwd()) / node.type
        if resolved(path) in including:
            errors.append(GraphError(
                f"subgraph '{node.type}' includes itself", node.type_loc, node=node.name,
                hint="a graph file cannot use itself as a node type, directly or indirectly"))
            continue
        inner, inner_errors = read_graph(path, including)
        if inner is None and not path.exists():
            inner_errors = [GraphError(f"no such subgraph file: {path}", node.type_loc,
                                       node=node.name,
                                       hint="the path is relative to the file that names it")]
        # a problem with the file as a whole (a folder, unreadable) is where it is named
        errors.extend(e if e.loc is not None and e.loc.line else GraphError(
            f"subgraph '{node.type}': {e.message}", node.type_loc, node=node.name,
            hint=e.hint) for e in inner_errors)
        if inner is None:
            spec.unreadable.add(node.name)
            continue
        if inner.placement is not None:
            errors.append(GraphError(
                f"subgraph '{node.type}' has a 'placement:' section", inner.placement.loc,
                node=node.name, hint="placement belongs to the graph that is run: move it "
                                     "to the file that uses this subgraph"))
        _check_no_triggers(node, errors)
        renamed = {name: _renamed(n, node.name) for name, n in inner.nodes.items()}
        errors.extend(missing_interface_nodes(inner))
        _wire_inside(node, inner, renamed, errors)
        nodes.update((n.name, n) for n in renamed.values())
        iface = inner.interface
        for key, refs in [*inner.param_aliases.items(), *iface.params.items()]:
            spec.param_aliases[f"{node.name}.{key}"] = [_prefixed(r, node.name) for r in refs]
        for key, ref in iface.outputs.items():
            outputs[(node.name, key)] = _prefixed(ref, node.name)
        for key, refs in iface.inputs.items():
            inputs[(node.name, key)] = [_prefixed(r, node.name) for r in refs]
    for index, node in enumerate(nodes.values()):
        node.index = index
        for port, edge in node.inputs.items():
            node.inputs[port] = _redirect(edge, outputs)
        if node.triggers.on is not None:
            node.triggers.on = outputs.get((node.triggers.on.node, node.triggers.on.port),
                                           node.triggers.on)
    _redirect_interface(spec, outputs, inputs)
    spec.nodes = nodes


def _check_no_triggers(node: NodeSpec, errors: list[GraphError]) -> None:
    t = node.triggers
    if t.every != 1 or t.after or t.until is not None or t.on is not None or t.repeat != 1:
        errors.append(GraphError(
            "triggers cannot be set on a subgraph node", node.loc, node=node.name,
            hint="put every/after/until/on/repeat on the nodes inside the subgraph file"))


def _wire_inside(node: NodeSpec, inner: GraphSpec, renamed: dict[str, NodeSpec],
                 errors: list[GraphError]) -> None:
    """Move the subgraph node's params and wires onto the inner nodes they address."""
    iface = inner.interface
    for key, value in node.params.items():
        targets = iface.params.get(key)
        if targets is None:
            errors.append(GraphError(
                f"subgraph '{node.type}' has no param '{key}'", node.params.key_loc(key),
                node=node.name, hint=choices_hint(key, iface.params, "params it exports")))
            continue
        for ref in targets:
            if ref.node in renamed:
                set_param(renamed[ref.node].params, ref.port, value, node.param_loc(key))
    for port, edge in node.inputs.items():
        targets = iface.inputs.get(port)
        if targets is None:
            errors.append(GraphError(
                f"subgraph '{node.type}' has no input '{port}'", edge.loc, node=node.name,
                port=port, hint=choices_hint(port, iface.inputs, "inputs it exports")))
            for meant in difflib.get_close_matches(port, iface.inputs, n=1):
                for ref in iface.inputs[meant]:  # reported here, not again as unconnected
                    if ref.node in renamed:
                        renamed[ref.node].written_inputs.add(ref.port)
            continue
        for ref in targets:
            if ref.node in renamed:
                target = renamed[ref.node]
                target.inputs[ref.port] = replace(edge, dst_node=target.name, dst_port=ref.port)
                target.written_inputs.add(ref.port)


def _prefixed(ref: PortRef, prefix: str) -> PortRef:
    return PortRef(f"{prefix}.{ref.node}", ref.port, ref.loc)


def _renamed(node: NodeSpec, prefix: str) -> NodeSpec:
    """The inner node as a node of the outer graph: `prefix.name`, its wires renamed."""
    name = f"{prefix}.{node.name}"
    inputs = {port: replace(edge, src=_prefixed(edge.src, prefix), dst_node=name)
              for port, edge in node.inputs.items()}
    on = node.triggers.on
    triggers = replace(node.triggers, on=_prefixed(on, prefix) if on else None)
    params = YMap(node.params)
    params.loc, params.key_locs = node.params_loc, dict(getattr(node.params, "key_locs", {}))
    params.value_locs = dict(getattr(node.params, "value_locs", {}))
    order = Order(after=[NodeRef(f"{prefix}.{r.node}", r.loc) for r in node.order.after],
                  before=[NodeRef(f"{prefix}.{r.node}", r.loc) for r in node.order.before])
    return replace(node, name=name, inputs=inputs, triggers=triggers, params=params,
                   written_inputs=set(node.written_inputs), order=order)


def _redirect(edge: EdgeSpec, outputs: dict[tuple[str, str], PortRef]) -> EdgeSpec:
    target = outputs.get((edge.src.node, edge.src.port))
    if target is None:
        return edge
    return replace(edge, src=PortRef(target.node, target.port, edge.src.loc))


def _redirect_interface(spec: GraphSpec, outputs: dict[tuple[str, str], PortRef],
                        inputs: dict[tuple[str, str], list[PortRef]]) -> None:
    """An interface that forwards a nested subgraph's ports or params points at the
    nested graph's inner nodes."""
    iface = spec.interface
    for key, ref in iface.outputs.items():
        target = outputs.get((ref.node, ref.port))
        if target is not None:
            iface.outputs[key] = PortRef(target.node, target.port, ref.loc)
    for key, refs in iface.inputs.items():
        iface.inputs[key] = [t for r in refs for t in inputs.get((r.node, r.port), [r])]
    for key, refs in iface.params.items():
        iface.params[key] = [t for r in refs
                             for t in spec.param_aliases.get(f"{r.node}.{r.port}", [r])]
