"""JSON Schema of the graph format, with every registered node type's params and ports,
so that editors autocomplete and flag mistakes while a graph is being written:

    # yaml-language-server: $schema=../rlgraph.schema.json
"""

from __future__ import annotations

import inspect
from typing import Any

from .core import Node, Param, Registry
from .core.placement import MODES, PLACEMENT_KEYS
from .core.spec import DEVICE_HINT, DEVICE_RE, NODE_KEYS
from .describe import protocols

REF_PATTERN = r"^[A-Za-z_][A-Za-z0-9_.]*\.[A-Za-z_][A-Za-z0-9_]*$"
_JSON_TYPES = {int: "integer", float: "number", bool: "boolean", str: "string",
               list: "array", dict: "object"}


def param_schema(param: Param) -> dict[str, Any]:
    """One param as JSON Schema: type, bounds, choices, default, description."""
    schema: dict[str, Any] = {}
    if param.type is not None:
        types = param.type if isinstance(param.type, tuple) else (param.type,)
        names = [_JSON_TYPES.get(t, "string") for t in types]
        if param.default is None:
            names.append("null")
        schema["type"] = names[0] if len(names) == 1 else names
    if param.item is not None:
        schema["items"] = {"type": _JSON_TYPES.get(param.item, "string")}
    if param.min_len is not None:
        schema["minItems"] = param.min_len
    if param.choices is not None:
        schema["enum"] = list(param.choices)
    if param.low is not None:
        schema["exclusiveMinimum" if param.low_open else "minimum"] = param.low
    if param.high is not None:
        schema["exclusiveMaximum" if param.high_open else "maximum"] = param.high
    if not param.required:
        schema["default"] = param.default
    schema["description"] = param.doc
    if param.schedule:  # a number, or a schedule over the ticks
        schedule = {"type": "object", "description": "a schedule: {linear: [start, end]}, "
                    "{exponential: [start, end], ticks: N} or {piecewise: [[tick, value], "
                    "...]}, optionally with ticks: N", "additionalProperties": False,
                    "properties": {"linear": {"type": "array"}, "exponential":
                                   {"type": "array"}, "piecewise": {"type": "array"},
                                   "ticks": {"type": "integer", "minimum": 1}}}
        return {"anyOf": [schema, schedule], "description": param.doc}
    return schema


def node_schema(cls: type[Node]) -> dict[str, Any]:
    """params and in of one node type, closed to unknown names."""
    doc = (inspect.getdoc(cls) or "").splitlines()
    params = {
        "type": "object",
        "properties": {k: param_schema(p) for k, p in cls.params.items()},
        "additionalProperties": False,
    }
    required = [k for k, p in cls.params.items() if p.required]
    if required:
        params["required"] = required
    wires = {
        "type": "object",
        "properties": {k: {"$ref": "#/definitions/wire",
                           "description": f"{p.kind}{' (optional)' if p.optional else ''}: "
                                          f"{p.doc}"}
                       for k, p in cls.inputs.items()},
        "additionalProperties": False,
    }
    return {"description": doc[0] if doc else "", "properties": {"params": params,
                                                                "in": wires}}


def graph_schema(registry: Registry) -> dict[str, Any]:
    """The whole format: top level, nodes, wires, triggers and each node type."""
    names = registry.names()
    count = {"type": "integer", "minimum": 0}
    ref = {"$ref": "#/definitions/ref"}
    ref_or_list = {"anyOf": [ref, {"type": "array", "items": ref}]}
    node_props: dict[str, Any] = {
        "type": {"description": "a node type (`rlgraph nodes`), package.module:Class, or "
                                "a subgraph file path ending in .yaml",
                 "anyOf": [{"enum": names}, {"type": "string", "pattern": ":"},
                           {"type": "string", "pattern": r"\.ya?ml$"}]},
        "params": {"type": "object"},
        "in": {"type": "object", "additionalProperties": {"$ref": "#/definitions/wire"}},
        "every": {**count, "minimum": 1, "description": "fire on multiples of N ticks "
                                                         "(or events, with on:)"},
        "after": {**count, "description": "fire from tick (or event) N on"},
        "until": {**count, "minimum": 1, "description": "fire before tick (or event) N"},
        "on": {**ref, "description": "fire only on ticks where this output is present"},
        "repeat": {**count, "minimum": 1, "description": "run this node and the nodes fed "
                                                         "only by it N times per firing"},
        "order": {"type": "object", "additionalProperties": False,
                  "description": "run after / before these nodes within a tick",
                  "properties": {key: {"anyOf": [{"type": "string"},
                                                 {"type": "array", "items": {"type": "string"}}]}
                                 for key in ("after", "before")}},
    }
    assert set(node_props) == set(NODE_KEYS)
    per_type = [{"if": {"properties": {"type": {"const": name}}, "required": ["type"]},
                 "then": node_schema(registry.resolve(name))} for name in names]
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "$id": "https://rlgraph.dev/rlgraph.schema.json",
        "title": "rlgraph graph",
        "description": "A deep-RL agent as a typed dataflow graph (rlgraph).",
        "type": "object",
        "required": ["nodes"],
        "additionalProperties": False,
        "properties": {
            "name": {"type": "string"},
            "description": {"type": "string"},
            "seed": {**count, "description": "graph seed, fanned out to one seed per node"},
            "steps": {**count, "minimum": 1, "description": "ticks to run"},
            "device": {"type": "string", "pattern": DEVICE_RE.pattern,
                       "description": DEVICE_HINT},
            "nodes": {"type": "object", "minProperties": 1,
                      "propertyNames": {"pattern": r"^[A-Za-z_][A-Za-z0-9_]*$"},
                      "additionalProperties": {"$ref": "#/definitions/node"}},
            "inputs": {"type": "object", "additionalProperties": ref_or_list,
                       "description": "subgraph: exported inputs -> inner node.input(s)"},
            "outputs": {"type": "object", "additionalProperties": ref,
                        "description": "subgraph: exported outputs -> inner node.output"},
            "params": {"type": "object", "additionalProperties": ref_or_list,
                       "description": "subgraph: exported params -> inner node.param(s)"},
            "placement": placement_schema(),
        },
        "definitions": {
            "ref": {"type": "string", "pattern": REF_PATTERN,
                    "description": "node.port"},
            "wire": {"anyOf": [
                {"$ref": "#/definitions/ref"},
                {"type": "object", "required": ["from"], "additionalProperties": False,
                 "properties": {"from": {"$ref": "#/definitions/ref"},
                                "delay": {"type": "integer", "minimum": 1},
                                "init": {"description": "value before the delay fills"}}},
            ]},
            "node": {"type": "object", "required": ["type"], "additionalProperties": False,
                     "properties": node_props, "allOf": per_type},
        },
    }


def placement_schema() -> dict[str, Any]:
    """The `placement:` section (rlgraph.core.placement)."""
    count = {"type": "integer", "minimum": 0}
    properties: dict[str, Any] = {
        "workers": {**count, "description": "replicas of the actor group; 0: one process"},
        "actors": {"type": "array", "items": {"type": "string"},
                   "description": "the replicated nodes (default: each env and its acting "
                                  "path)"},
        "fragment": {**count, "minimum": 1, "description": "ticks per message from a "
                                                            "worker"},
        "mode": {"enum": list(MODES), "description": "async: learn from the first fragment "
                                                     "ready; sync: workers take turns "
                                                     "(deterministic)"},
        "weights_every": {**count, "minimum": 1,
                          "description": "publish weights after every N update bursts"},
        "restarts": {**count, "description": "replace dead workers at most N times"},
        "overrides": {"type": "object", "additionalProperties": {"type": "array"},
                      "description": "node.param: [one value per worker]"},
    }
    assert set(properties) == set(PLACEMENT_KEYS)
    return {"type": "object", "additionalProperties": False, "properties": properties,
            "description": "run the graph on worker processes (Ray): the actors are "
                           "replicated, the rest stays in the learner"}


def nodes_json(registry: Registry) -> list[dict[str, Any]]:
    """Every node type with ports and params, for tools (`rlgraph nodes --json`)."""
    out = []
    for name in registry.names():
        cls = registry.resolve(name)
        out.append({
            "name": name,
            "class": f"{cls.__module__}:{cls.__qualname__}",
            "doc": inspect.getdoc(cls) or "",
            "inputs": {k: {"kind": str(p.kind), "static": p.static, "optional": p.optional,
                           "roles": list(p.roles), "doc": p.doc}
                       for k, p in cls.inputs.items()},
            "outputs": {k: {"kind": str(p.kind), "static": p.static, "roles": list(p.roles),
                            "like": p.like, "doc": p.doc} for k, p in cls.outputs.items()},
            "is": protocols(cls),
            "params": {k: param_schema(p) | {"required": p.required}
                       for k, p in cls.params.items()},
        })
    return out
