"""The acting path of a graph: the nodes between an environment's observations and the
action it takes, which evaluation runs on fresh copies of the env.

For `env` whose `action` input is fed by `policy.action` (a delayed wire), the path is
every node on a non-delayed stream route from env to policy, the policy included, in
tick order: in `dqn_target` just `policy`; with an observation normaliser between the
two, `[norm, policy]`. Evaluation feeds the eval envs' observations in place of the
env's `obs` output and calls each node's `act` (see protocols.Acting). An input that
evaluation has no value for (a delayed wire, another env output, a node off the path)
is None there; a required one is an error naming the node and the wire.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import networkx as nx

from .errors import GraphError
from .node import Node
from .schedule import dependency_graph, tick_order
from .spec import GraphSpec, PortRef


@dataclass
class ActingPath:
    """Where evaluation takes its actions from, for one env node."""

    env: str
    policy: PortRef  # the output whose value the env takes as its action
    nodes: list[str]  # the path, in tick order; the policy's node is the last
    #: node -> input port -> the (node, port) it reads on the path or the env's
    #: observations; inputs missing here are None in evaluation
    wires: dict[str, dict[str, tuple[str, str]]] = field(default_factory=dict)
    problems: list[GraphError] = field(default_factory=list)


def acting_path(spec: GraphSpec, classes: dict[str, type[Node]], env: str,
                action_input: str = "action", obs_output: str = "obs") -> ActingPath:
    """The acting path of `env` (problems, if any, in `.problems`)."""
    node = spec.nodes[env]
    edge = node.inputs.get(action_input)
    if edge is None:
        where = ActingPath(env, PortRef(env, action_input, node.loc), [])
        where.problems.append(GraphError(
            f"nothing is wired to the env's '{action_input}' input, so no policy acts in it",
            node.loc, node=env, port=action_input,
            hint="wire the policy's action: {from: policy.action, delay: 1}"))
        return where
    policy = edge.src
    path = ActingPath(env, policy, [])
    g = dependency_graph(spec, classes, static=False)
    if policy.node == env or policy.node not in nx.descendants(g, env):
        path.problems.append(GraphError(
            f"the env's action comes from '{policy}', which does not act on the env's "
            f"'{obs_output}' within a tick", edge.loc, node=env, port=action_input,
            hint="evaluation runs env -> ... -> policy; wire the policy's observations "
                 f"from {env}.{obs_output}"))
        return path
    on_path = (nx.descendants(g, env) & nx.ancestors(g, policy.node)) | {policy.node}
    path.nodes = [n for n in tick_order(spec, classes) if n in on_path]
    for name in path.nodes:
        cls = classes[name]
        wires: dict[str, tuple[str, str]] = {}
        for port, decl in cls.inputs.items():
            wire = spec.nodes[name].inputs.get(port)
            if decl.static or wire is None:
                continue
            src = wire.src
            reachable = not wire.delayed and (
                src.node in on_path or (src.node == env and src.port == obs_output))
            if reachable:
                wires[port] = (src.node, src.port)
            elif not decl.optional:
                path.problems.append(GraphError(
                    f"input '{port}' reads '{src}'{' over a delayed wire' if wire.delayed else ''}"
                    f", which has no value when the policy is evaluated on fresh copies of "
                    f"'{env}' (they give only {env}.{obs_output})", wire.loc, node=name,
                    port=port, hint="make the input optional, or compute it from the "
                                    "observations on the path"))
        path.wires[name] = wires
    return path
