"""Placement: one graph on several processes (`placement:`), read and checked at load.

    placement:
      workers: 4              # replicas of the actor group; 0 or absent: one process
      actors: [env, policy]   # the replicated nodes (default: each env and its acting path)
      fragment: 128           # ticks per message from a worker to the learner
      mode: async             # async (first ready) | sync (round-robin, deterministic)
      weights_every: 1        # publish the weights after every N update bursts
      restarts: 3             # replace dead workers at most N times, then fail
      overrides: {policy.end: [0.4, 0.1, 0.03, 0.01]}   # one value per worker

The graph says where to cut (`find_cut`). The actor nodes run in every worker. Stream
wires from them to the other nodes (the learner) become channels carrying fragments of
ticks; static module wires from the learner into them become the weights channel (each
worker loads the learner's latest weights between fragments). The learner nodes whose
static outputs the actors take (a network, for its shape) are built in each worker too
and never fire there; the learner builds its own copy of the actor nodes (for their
static outputs, evaluation and checkpoints) and never fires those.

A buffer wire across the cut, a stream wire from the learner into the actors, an actor
that changes a network and a `repeat` among the actors are located errors, found here
without starting anything. The runtime that runs a placed graph on Ray is
rlgraph.placement; nothing here imports it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .acting import acting_path
from .errors import GraphError, GraphWarning, Loc, choices_hint
from .node import Node
from .ordering import module_users
from .ports import In, Kind
from .protocols import Environment
from .schedule import _is_static, dependency_edges, tick_order
from .spec import NAME_RE, EdgeSpec, GraphSpec, NodeRef, PortRef
from .yamlsrc import YList, YMap, loc_of

if TYPE_CHECKING:
    from .parse import Parser

PLACEMENT_KEYS = ("workers", "actors", "fragment", "mode", "weights_every", "restarts",
                  "overrides")
MODES = ("async", "sync")
#: the integer keys and their lowest allowed values
INTEGER_KEYS = {"workers": 0, "fragment": 1, "weights_every": 1, "restarts": 0}
EXAMPLE = "e.g.  placement: {workers: 4, actors: [env, policy], fragment: 128}"


@dataclass
class ParamOverride:
    """`node.param: [v0, v1, ...]` under `overrides:`: worker i runs with vi."""

    node: str
    param: str
    values: list[Any]
    loc: Loc  # where the values are written


@dataclass
class Placement:
    """The `placement:` section: how many workers replicate which nodes, and how the
    learner and the workers talk."""

    workers: int = 0
    actors: list[NodeRef] | None = None  # None: each env node and its acting path
    fragment: int = 128
    mode: str = "async"
    weights_every: int = 1
    restarts: int = 3
    overrides: list[ParamOverride] = field(default_factory=list)
    loc: Loc = field(default_factory=lambda: Loc("<graph>"))
    #: the section as written (located), re-read with a `--set placement.KEY=VALUE`
    written: YMap = field(default_factory=YMap)

    def where(self, key: str) -> Loc:
        """Where `key`'s value is written (the section's start when it is not)."""
        return self.written.value_loc(key) if key in self.written else self.loc

    def params_of(self, slot: int) -> dict[str, dict[str, Any]]:
        """Worker `slot`'s own param values: node -> param -> value."""
        out: dict[str, dict[str, Any]] = {}
        for o in self.overrides:
            out.setdefault(o.node, {})[o.param] = o.values[slot]
        return out


def parse_placement(parser: Parser, value: Any, loc: Loc) -> Placement:
    """The `placement:` section, every shape problem reported through `parser`."""
    from .parse import _what
    where = loc_of(value, loc)
    placement = Placement(loc=where)
    if not isinstance(value, YMap):
        parser.error(f"'placement' must be a mapping, got {_what(value)}", where,
                     hint=EXAMPLE)
        return placement
    placement.written = value
    for key in value:
        if key not in PLACEMENT_KEYS:
            parser.error(f"unknown key '{key}' in 'placement'", value.key_loc(key),
                         hint=choices_hint(key, PLACEMENT_KEYS, "placement keys"))
    for key, low in INTEGER_KEYS.items():
        setattr(placement, key, parser.integer(value, key, getattr(placement, key), low=low))
    if "mode" in value:
        mode = value["mode"]
        if mode in MODES:
            placement.mode = mode
        else:
            parser.error(f"'mode' must be async or sync, got {_what(mode)}",
                         value.value_loc("mode"),
                         hint="async: each fragment is learned from as soon as it arrives; "
                              "sync: the workers take turns (deterministic)")
    if "actors" in value:
        placement.actors = _node_names(parser, value["actors"], value.value_loc("actors"))
    if "overrides" in value:
        placement.overrides = _overrides(parser, value["overrides"],
                                         value.value_loc("overrides"))
    return placement


def _node_names(parser: Parser, value: Any, loc: Loc) -> list[NodeRef]:
    from .parse import _what
    items = value if isinstance(value, YList) else [value]
    locs = value.item_locs if isinstance(value, YList) else [loc]
    refs = []
    for item, item_loc in zip(items, locs):
        if isinstance(item, str) and NAME_RE.match(item):
            refs.append(NodeRef(item, item_loc))
        else:
            parser.error(f"'actors' must list node names, got {_what(item)}", item_loc,
                         hint="e.g.  actors: [env, policy]")
    return refs


def _overrides(parser: Parser, value: Any, loc: Loc) -> list[ParamOverride]:
    from .parse import _what
    if not isinstance(value, YMap):
        parser.error(f"'overrides' must be a mapping of node.param: [one value per worker], "
                     f"got {_what(value)}", loc_of(value, loc),
                     hint="e.g.  overrides: {policy.end: [0.4, 0.1]}")
        return []
    found = []
    for key, values in value.items():
        node, _, param = str(key).rpartition(".")
        if not node or not param:
            parser.error(f"'overrides' key '{key}' must be node.param", value.key_loc(key),
                         hint="e.g.  overrides: {policy.end: [0.4, 0.1]}")
        elif not isinstance(values, list) or not values:
            parser.error(f"'overrides: {key}' must be a list with one value per worker, "
                         f"got {_what(values)}", value.value_loc(key),
                         hint=f"e.g.  {key}: [value for worker 0, value for worker 1]")
        else:
            found.append(ParamOverride(node, param, list(values), value.value_loc(key)))
    return found


# ---- the cut ----------------------------------------------------------------------------
@dataclass
class Cut:
    """Where a placed graph is cut, derived from its wiring."""

    actors: list[str]  # the replicated nodes, in file order
    #: what each worker builds: the actors and the learner nodes whose static outputs
    #: they take (transitively), in file order; only the actors fire there
    built: list[str] = field(default_factory=list)
    #: actor node -> its stream outputs that learner nodes read: the channel
    channels: dict[str, list[str]] = field(default_factory=dict)
    #: module outputs of learner nodes that actors read: the weights channel
    weights: list[PortRef] = field(default_factory=list)
    #: (node, port) of each weights module -> the learner nodes that change it
    writers: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    #: the wires that cross, for drawings: (wire, 'fragments' or 'weights')
    crossings: list[tuple[EdgeSpec, str]] = field(default_factory=list)
    errors: list[GraphError] = field(default_factory=list)  # why it cannot be cut so


def find_cut(spec: GraphSpec, classes: dict[str, type[Node]]) -> Cut:
    """The cut of a graph with a `placement:` section and a class for every node; what is
    wrong with it in `.errors`."""
    placement = spec.placement
    assert placement is not None
    cut = Cut(actors=[])
    names = _actor_names(spec, classes, placement, cut.errors)
    if not names:
        return cut
    group = set(names)
    edges = dependency_edges(spec, classes)
    inbound = _stream_sources(edges, classes)
    if placement.actors is None:
        group |= _followers(spec, classes, inbound, group)
    cut.errors += _split_followers(spec, classes, inbound, group)
    cut.actors = [n for n in spec.nodes if n in group]
    for edge in edges:
        if (edge.src.node in group) != (edge.dst_node in group):
            _cross(spec, classes, edge, edge.src.node in group, cut)
    users = module_users(spec, classes)
    for module, (_, writers) in users.items():
        trainers = [w for w in writers if w not in group and w != module[0]]
        if module[0] in group and trainers:
            cut.errors.append(GraphError(
                f"is an actor, but '{trainers[0]}' on the learner changes its network "
                f"'{module[0]}.{module[1]}'", spec.nodes[module[0]].loc, node=module[0],
                hint="leave it off placement.actors: the learner owns the networks it "
                     "trains, and each worker builds a copy that loads its weights"))
        for writer in writers:
            if writer in group:
                cut.errors.append(GraphError(
                    f"is an actor but changes the network '{module[0]}.{module[1]}': each "
                    f"worker would train its own copy", spec.nodes[writer].loc, node=writer,
                    hint="leave it off placement.actors: the learner trains the networks "
                         "and the workers act with its weights"))
    cut.writers = {(r.node, r.port): users.get((r.node, r.port), ([], []))[1]
                   for r in cut.weights}
    for name in cut.actors:
        trig = spec.nodes[name].triggers
        if trig.repeat > 1:
            cut.errors.append(GraphError(
                "'repeat' on an actor: a worker's tick runs each actor once",
                trig.repeat_loc or spec.nodes[name].loc, node=name,
                hint="repeat learner nodes (a sampler's burst), not actors"))
    cut.built = _static_closure(spec, classes, group)
    _check_overrides(spec, classes, placement, group, cut.errors)
    return cut


def _stream_sources(edges: list[EdgeSpec], classes: dict[str, type[Node]]
                    ) -> dict[str, list[EdgeSpec]]:
    """Each node's inbound stream wires (delayed ones too, and `on:` triggers)."""
    inbound: dict[str, list[EdgeSpec]] = {}
    for edge in edges:
        if not _is_static(edge, classes):
            inbound.setdefault(edge.dst_node, []).append(edge)
    return inbound


def _followers(spec: GraphSpec, classes: dict[str, type[Node]],
               inbound: dict[str, list[EdgeSpec]], group: set[str]) -> set[str]:
    """The nodes that keep state per env row (Node.follows_env) and take their streams
    (`inbound`, _stream_sources) from the actors only, transitively: they run beside the
    env on each worker."""
    found: set[str] = set()
    grown = True
    while grown:
        grown = False
        for name in spec.nodes:
            sources = {e.src.node for e in inbound.get(name, [])}
            if (name not in group | found and classes[name].follows_env and sources
                    and sources <= group | found):
                found.add(name)
                grown = True
    return found


def _split_followers(spec: GraphSpec, classes: dict[str, type[Node]],
                     inbound: dict[str, list[EdgeSpec]], group: set[str]) -> list[GraphError]:
    """A node that keeps state per env row, left on the learner while its streams
    (`inbound`) come from the actors (directly or through learner nodes): the learner
    takes the workers' fragments in turns, so its windows would join steps of different
    workers."""
    errors = []
    for name in spec.nodes:
        if name in group or not classes[name].follows_env or name not in inbound:
            continue
        seen: set[str] = set()
        todo = [name]
        while todo:  # the node's stream ancestors
            for edge in inbound.get(todo.pop(), []):
                if edge.src.node not in seen:
                    seen.add(edge.src.node)
                    todo.append(edge.src.node)
        if not seen & group:
            continue
        edge = inbound[name][0]
        between = [n for n in spec.nodes if n in seen - group]
        hint = (f"add '{name}' to placement.actors, so that it runs beside the env on every "
                f"worker (or leave 'actors' out: it goes there by itself)") if not between \
            else (f"run '{name}' and the learner nodes that feed it ({', '.join(between)}) "
                  f"beside the env: list them in placement.actors")
        errors.append(GraphError(
            f"'{name}' ({classes[name].__name__}) keeps state per env row, but runs on the "
            f"learner, which takes the workers' fragments in turns: each env's window would "
            f"join steps of different workers", edge.loc, node=name, port=edge.dst_port,
            hint=hint))
    return errors


def _actor_names(spec: GraphSpec, classes: dict[str, type[Node]], placement: Placement,
                 errors: list[GraphError]) -> list[str]:
    """The actors as written (each a node, or a subgraph node: all of its nodes), or,
    when `actors` is not given, every environment node and its acting path."""
    if placement.actors is not None:
        names: list[str] = []
        for ref in placement.actors:
            found = [ref.node] if ref.node in spec.nodes else \
                [n for n in spec.nodes if n.startswith(f"{ref.node}.")]
            if not found:
                errors.append(GraphError(
                    f"'actors' names '{ref.node}', which is not a node of graph "
                    f"'{spec.name}'", ref.loc,
                    hint=choices_hint(ref.node, spec.nodes, "node names")))
            names += [n for n in found if n not in names]
        if not names and not errors:
            errors.append(GraphError("'actors' is empty", placement.where("actors"),
                                     hint="list the nodes each worker runs: the env and "
                                          "its policy, e.g.  actors: [env, policy]"))
        return names
    envs = [n for n in spec.nodes if issubclass(classes[n], Environment)]
    if not envs:
        errors.append(GraphError(
            "the graph has no environment node, so the actors cannot be told from it",
            placement.loc, hint="list the nodes each worker runs: placement: "
                                "{actors: [...]}"))
    names = []
    for env in envs:
        cls = classes[env]
        assert issubclass(cls, Environment)
        path = acting_path(spec, classes, env, cls.action_input, cls.obs_output)
        for problem in path.problems:
            errors.append(GraphError(
                f"cannot tell the actors from the acting path of '{env}': {problem.message}",
                placement.loc, hint=f"list them: placement: {{actors: [{env}, ...]}}"))
        names += [n for n in [env, *path.nodes] if n not in names]
    return names


def _cross(spec: GraphSpec, classes: dict[str, type[Node]], edge: EdgeSpec, outward: bool,
           cut: Cut) -> None:
    """Sort one wire between an actor and a learner node, or say why it cannot cross."""
    out = classes[edge.src.node].outputs.get(edge.src.port)
    decl: In | None = classes[edge.dst_node].inputs.get(edge.dst_port)
    if out is None:
        return  # a wire to an output that does not exist: reported by the wire checks
    actor, other = (edge.src.node, edge.dst_node) if outward else (edge.dst_node,
                                                                    edge.src.node)
    trigger = edge.dst_port == "on" and decl is None
    what = f"'on: {edge.src}'" if trigger else f"the wire {edge.src} -> " \
        f"{edge.dst_node}.{edge.dst_port}"
    if Kind.BUFFER in (out.kind, decl.kind if decl else None):
        cut.errors.append(GraphError(
            f"{what} hands a replay buffer across the cut between the actors and the "
            f"learner: a buffer lives in one process", edge.loc, node=edge.dst_node,
            port=edge.dst_port,
            hint=f"put '{edge.src.node}' and '{edge.dst_node}' on the same side: list both "
                 f"in placement.actors or neither (a buffer usually belongs to the "
                 f"learner; actors send transitions to it)"))
    elif outward and not out.static:
        cut.channels.setdefault(actor, [])
        if edge.src.port not in cut.channels[actor]:
            cut.channels[actor].append(edge.src.port)
        cut.crossings.append((edge, "fragments"))
    elif not outward and not out.static:
        delayed = (" (even delayed: the workers run fragments of ticks ahead of the "
                   "learner)" if edge.delayed else ": it would need a round trip between "
                   "processes every tick")
        cut.errors.append(GraphError(
            f"{what} carries a per-tick value from the learner into the actors{delayed}",
            edge.loc, node=edge.dst_node, port=edge.dst_port,
            hint=f"add '{other}' to placement.actors, or compute the value on the actors' "
                 f"side; only network weights flow from the learner to the workers"))
    elif not outward and out.kind is Kind.MODULE:
        if all((w.node, w.port) != (edge.src.node, edge.src.port) for w in cut.weights):
            cut.weights.append(edge.src)
        cut.crossings.append((edge, "weights"))


def _static_closure(spec: GraphSpec, classes: dict[str, type[Node]],
                    group: set[str]) -> list[str]:
    """The actors and every node they take static inputs from, transitively."""
    needed, frontier = set(group), list(group)
    while frontier:
        name = frontier.pop()
        for port, edge in spec.nodes[name].inputs.items():
            decl = classes[name].inputs.get(port)
            if decl is not None and decl.static and edge.src.node not in needed \
                    and edge.src.node in spec.nodes:
                needed.add(edge.src.node)
                frontier.append(edge.src.node)
    return [n for n in spec.nodes if n in needed]


def _check_overrides(spec: GraphSpec, classes: dict[str, type[Node]], placement: Placement,
                     group: set[str], errors: list[GraphError]) -> None:
    for o in placement.overrides:
        if o.node not in group:
            errors.append(GraphError(
                f"'overrides' sets '{o.node}.{o.param}', but '{o.node}' is not an actor",
                o.loc, hint="per-worker values are for the nodes each worker runs: "
                + choices_hint(o.node, sorted(group), "actors")))
            continue
        decl = classes[o.node].params.get(o.param)
        if decl is None:
            errors.append(GraphError(
                f"'overrides' sets '{o.node}.{o.param}', but {classes[o.node].__name__} has "
                f"no param '{o.param}'", o.loc, node=o.node,
                hint=choices_hint(o.param, classes[o.node].params, "params")))
            continue
        if placement.workers and len(o.values) != placement.workers:
            errors.append(GraphError(
                f"'overrides: {o.node}.{o.param}' gives {len(o.values)} value"
                f"{'s' if len(o.values) != 1 else ''} for {placement.workers} worker"
                f"{'s' if placement.workers != 1 else ''}", o.loc, node=o.node,
                hint="give one value per worker (worker i runs with the i-th)"))
        for i, value in enumerate(o.values):
            _, problem = decl.check(value)
            if problem:
                errors.append(GraphError(
                    f"'overrides: {o.node}.{o.param}', worker {i}'s value: param "
                    f"'{o.param}' {problem}", o.loc, node=o.node,
                    hint=f"{o.param}: {decl.describe()}"))


def _stale_readers(spec: GraphSpec, classes: dict[str, type[Node]],
                   cut: Cut) -> list[GraphWarning]:
    """Actors the graph orders after a change of the weights they read: in a placed run
    they act with the weights last published, never with this tick's change."""
    position = {name: i for i, name in enumerate(tick_order(spec, classes))}
    warnings = []
    for edge, channel in cut.crossings:
        if channel != "weights":
            continue
        reader = edge.dst_node
        for writer in cut.writers.get((edge.src.node, edge.src.port), []):
            if position.get(writer, -1) < position.get(reader, -1):
                warnings.append(GraphWarning(
                    f"runs after '{writer}' changes '{edge.src}' within a tick, but in a "
                    f"placed run it acts with the weights the learner last published: a "
                    f"worker never sees this tick's change", spec.nodes[reader].loc,
                    node=reader,
                    hint=f"to act alike in one process and placed, order it before "
                         f"'{writer}' (order: {{before: [{writer}]}}); else placed it acts "
                         f"a fragment or more behind (the policy lag the run reports)"))
    return warnings


def check_placement(spec: GraphSpec, classes: dict[str, type[Node]],
                    errors: list[GraphError], warnings: list[GraphWarning]) -> None:
    """Everything about a graph's placement that can be checked at load: the section's
    shape always (parse_placement), the cut when it runs on workers (a graph whose
    section says `workers: 0` runs in one process, whatever the section's actors)."""
    if spec.placement is None or not spec.placement.workers:
        return
    cut = find_cut(spec, classes)
    if not errors and not cut.errors:  # the tick has an order to compare with
        warnings.extend(_stale_readers(spec, classes, cut))
    errors.extend(cut.errors)
