"""Checkpoints: a built graph's whole state in one file, written atomically, read safely.

A checkpoint is `torch.save` of plain containers only (dicts, lists, tuples, numbers,
strings, bytes, tensors), so it is read back with `torch.load(weights_only=True)`, which
builds no arbitrary objects. Node state that is not plain (numpy arrays, deques, named
tuples, the "absent" marker on delayed wires) is encoded as tagged dicts and decoded
after loading. Pickled environments inside a node's state (GymEnv saves its sub-envs
with pickle) are unpickled first with a restricted unpickler (see `safe_pickle`) before
any node sees them, so a checkpoint that names other code is refused.
"""

from __future__ import annotations

import dataclasses
import os
import random
import sys
from collections import OrderedDict, deque
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch

from ..core import ABSENT, Environment, Graph, GraphError, GraphErrors, Loc, Node
from ..core.ports import Kind
from .safe_pickle import UnsafePickle, check_pickle

FORMAT = "rlgraph-checkpoint"
#: 2: EpsilonGreedy keeps a numpy generator and the replay writes in batches; a version
#: 1 run cannot continue on the same random streams.
VERSION = 2
TAG = "__rlgraph__"  # key of an encoded non-plain value
PREFIX, SUFFIX = "ckpt-", ".pt"
BEST = "best.pt"  # the checkpoint of the run's best evaluation, beside the rolling ones


def checkpoint_error(path: str | Path, message: str, hint: str | None = None) -> GraphErrors:
    """A checkpoint problem a user can fix, located at the file."""
    return GraphErrors([GraphError(message, Loc(str(path)), hint=hint)])


class NotEncodable(TypeError):
    """A value in a node's state that a checkpoint cannot hold as plain data."""


# ---- plain-data encoding ---------------------------------------------------------------
def encode(value: Any, where: str = "state") -> Any:
    """`value` as plain containers and tensors; raises NotEncodable naming `where`."""
    if value is None or type(value) in (bool, int, float, str, bytes) \
            or isinstance(value, torch.Tensor):
        return value
    if value is ABSENT:
        return {TAG: "absent"}
    if isinstance(value, np.ndarray):
        if value.dtype == object:
            raise NotEncodable(f"{where}: a numpy array of Python objects")
        return {TAG: "ndarray", "data": torch.from_numpy(np.ascontiguousarray(value).copy())}
    if isinstance(value, np.generic):
        return {TAG: "npscalar", "data": torch.from_numpy(np.asarray(value).copy())}
    if isinstance(value, deque):
        return {TAG: "deque", "maxlen": value.maxlen,
                "items": [encode(v, f"{where}[{i}]") for i, v in enumerate(value)]}
    fields = getattr(type(value), "_fields", None)
    if isinstance(value, tuple) and fields is not None:  # a NamedTuple
        return {TAG: "namedtuple", "type": _class_name(type(value)),
                "items": [encode(v, f"{where}.{f}") for f, v in zip(fields, value)]}
    if isinstance(value, SimpleNamespace):  # records: transitions, batches
        return {TAG: "record", "type": _class_name(type(value)),
                "fields": {k: encode(v, f"{where}.{k}") for k, v in vars(value).items()}}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {TAG: "dataclass", "type": _class_name(type(value)),
                "fields": {f.name: encode(getattr(value, f.name), f"{where}.{f.name}")
                           for f in dataclasses.fields(value)}}
    if type(value) in (tuple, list, set, frozenset):
        items = [encode(v, f"{where}[{i}]") for i, v in enumerate(value)]
        return items if type(value) is list else {TAG: type(value).__name__, "items": items}
    if type(value) in (dict, OrderedDict):
        if TAG in value:
            raise NotEncodable(f"{where}: a dict with the reserved key '{TAG}'")
        out = {k: encode(v, f"{where}[{k!r}]") for k, v in value.items()}
        return OrderedDict(out) if type(value) is OrderedDict else out
    raise NotEncodable(f"{where}: a {type(value).__module__}.{type(value).__qualname__}")


def decode(value: Any) -> Any:
    """The inverse of `encode`."""
    if isinstance(value, list):
        return [decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    tag = value.get(TAG)
    if tag is None:
        out = {k: decode(v) for k, v in value.items()}
        return OrderedDict(out) if isinstance(value, OrderedDict) else out
    if tag == "absent":
        return ABSENT
    if tag == "ndarray":
        return value["data"].numpy()
    if tag == "npscalar":
        return value["data"].numpy()[()]
    if tag == "deque":
        return deque((decode(v) for v in value["items"]), maxlen=value["maxlen"])
    if tag in ("tuple", "set", "frozenset"):
        return {"tuple": tuple, "set": set, "frozenset": frozenset}[tag](
            decode(v) for v in value["items"])
    if tag == "namedtuple":
        return _loaded_class(value["type"], tuple)(*(decode(v) for v in value["items"]))
    if tag == "record":
        return _loaded_class(value["type"], SimpleNamespace)(
            **{k: decode(v) for k, v in value["fields"].items()})
    if tag == "dataclass":
        cls = _loaded_class(value["type"], object)
        if not dataclasses.is_dataclass(cls):
            raise ValueError(f"{value['type']} is not a dataclass")
        return cls(**{k: decode(v) for k, v in value["fields"].items()})
    raise ValueError(f"unknown encoded value '{tag}'")


def _class_name(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def _loaded_class(name: str, base: type) -> type:
    """A class from a module that is already imported (a checkpoint imports nothing)."""
    module_name, _, qualname = name.partition(":")
    module = sys.modules.get(module_name)
    obj: Any = module
    for part in qualname.split("."):
        obj = getattr(obj, part, None)
    if not isinstance(obj, type) or not issubclass(obj, base):
        raise ValueError(f"'{name}' is not a loaded {base.__name__} class")
    return obj


# ---- what a checkpoint holds -----------------------------------------------------------
def is_replay(node: Node) -> bool:
    """Whether the node holds replay contents (it offers a buffer to samplers)."""
    return any(out.kind is Kind.BUFFER for out in type(node).outputs.values())


def global_rng_state() -> dict[str, Any]:
    return {"torch": torch.get_rng_state(), "numpy": np.random.get_state(),
            "python": random.getstate()}


def set_global_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])


def snapshot(graph: Graph, replay: bool = True, extra: dict[str, Any] | None = None
             ) -> dict[str, Any]:
    """The graph's state as a checkpoint payload (plain data, not yet written)."""
    state = graph.state_dict()
    skipped = [name for name, node in graph.nodes.items() if not replay and is_replay(node)]
    for name in skipped:
        del state["nodes"][name]
    nodes = {}
    for name, node_state in state.pop("nodes").items():
        try:
            nodes[name] = encode(node_state, "state")
        except NotEncodable as exc:
            raise RuntimeError(
                f"node '{name}' ({type(graph.nodes[name]).__name__}) cannot be "
                f"checkpointed: {exc} is not plain data; its state_dict() should return "
                f"tensors, numbers, strings, lists and dicts") from exc
    state = {**encode(state, "graph state"), "nodes": nodes}
    return {"format": FORMAT, "version": VERSION, "graph": graph.spec.name,
            "tick": graph.tick, "types": {n: type(node).__name__
                                            for n, node in graph.nodes.items()},
            "without": skipped, "rng": encode(global_rng_state(), "rng"), "state": state,
            "extra": encode(extra or {}, "extra")}


def save(payload: dict[str, Any], path: Path) -> None:
    """Write atomically: a temporary file in the same folder, then a rename, so a crash
    mid-write leaves the previous checkpoint intact."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as f:
        torch.save(payload, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def read(path: str | Path) -> dict[str, Any]:
    """A checkpoint file's payload, decoded; clear errors for missing, corrupt or
    foreign files."""
    path = Path(path)
    if not path.is_file():
        raise checkpoint_error(path, "no such checkpoint file")
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if "weights_only" in str(exc) or "Weights only" in str(exc):
            message = ("refusing to load: the file holds objects other than tensors and "
                       "plain data, which a checkpoint never does")
        else:
            message = f"not a readable checkpoint (truncated or corrupt?): {text}"
        raise checkpoint_error(path, message, hint="use another file from the run's "
                               "checkpoints/ folder") from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise checkpoint_error(path, "not an rlgraph checkpoint",
                               hint="checkpoints are the checkpoints/ckpt-*.pt files "
                                    "that `rlgraph run` writes")
    if raw.get("version") != VERSION:
        raise checkpoint_error(path, f"checkpoint format version {raw.get('version')}; "
                               f"this rlgraph reads version {VERSION}",
                               hint="it was written by another rlgraph release, whose "
                                    "nodes keep other state; start the run anew with "
                                    "`rlgraph run`, or resume it with that release")
    try:
        return decode(raw)
    except (ValueError, KeyError, TypeError) as exc:
        raise checkpoint_error(path, f"damaged checkpoint: {exc}") from None


def restore(graph: Graph, payload: dict[str, Any], path: str | Path) -> None:
    """Load a checkpoint payload into a graph built from the same YAML; names what
    differs when it was saved from another graph."""
    saved, mine = payload["types"], {n: type(node).__name__ for n, node in graph.nodes.items()}
    problems = [f"node '{n}' is in the checkpoint but not in the graph"
                for n in saved if n not in mine]
    problems += [f"node '{n}' is in the graph but not in the checkpoint"
                 for n in mine if n not in saved]
    problems += [f"node '{n}' is a {saved[n]} in the checkpoint but a {mine[n]} in the graph"
                 for n in saved if n in mine and saved[n] != mine[n]]
    if problems:
        raise checkpoint_error(
            path, f"checkpoint of graph '{payload['graph']}' does not match graph "
            f"'{graph.spec.name}': " + "; ".join(problems),
            hint="resume a run with the graph.yaml of its own run folder")
    state = payload["state"]
    nodes = state["nodes"]
    for name, node_state in nodes.items():
        check_node_pickles(graph.nodes[name], node_state, path)
    try:
        graph.load_state_dict({**state, "nodes": {}})
    except (KeyError, TypeError, ValueError) as exc:
        raise checkpoint_error(path, f"damaged checkpoint: graph state: {exc}") from None
    for name, node_state in nodes.items():
        node = graph.nodes[name]
        try:
            node.load_state_dict(node_state)
        except Exception as exc:
            first = str(exc).strip().splitlines()
            raise checkpoint_error(
                path, f"node '{name}' ({type(node).__name__}) does not match this "
                f"checkpoint: {' '.join(line.strip() for line in first[:3])}",
                hint="the checkpoint was saved from a graph with other params "
                     "(layer sizes, num_envs, ...)") from None
    set_global_rng_state(payload["rng"])


def check_node_pickles(node: Node, state: Any, path: str | Path) -> None:
    """Every pickle in a node's state (GymEnv's sub-envs) may build only gymnasium and
    numpy objects, and the classes of the modules an Environment node trusts (its env's
    own registered module)."""
    allowed_modules = node.trusted_modules() if isinstance(node, Environment) else set()
    for where, blob in _pickles(state, "state"):
        try:
            check_pickle(blob, allowed_modules)
        except UnsafePickle as exc:
            raise checkpoint_error(
                path, f"node '{node.name}', {where}: refusing to unpickle: {exc}",
                hint="checkpoints only restore gymnasium/numpy environments; this file "
                     "was not written by rlgraph, or names other code") from None


def _pickles(value: Any, where: str):
    if isinstance(value, bytes) and value[:1] == b"\x80":
        yield where, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _pickles(v, f"{where}[{k!r}]")
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            yield from _pickles(v, f"{where}[{i}]")


# ---- files in a run folder ---------------------------------------------------------------
def checkpoint_path(run_dir: Path, tick: int) -> Path:
    return run_dir / "checkpoints" / f"{PREFIX}{tick:09d}{SUFFIX}"


def list_checkpoints(run_dir: Path) -> list[Path]:
    """The run's rolling checkpoints (ckpt-<tick>.pt), oldest first."""
    folder = run_dir / "checkpoints"
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob(f"{PREFIX}*{SUFFIX}") if p.stem[len(PREFIX):].isdigit())


def best_path(run_dir: Path) -> Path:
    return run_dir / "checkpoints" / BEST


def tick_of(path: Path) -> int:
    """The tick a checkpoint file was saved at, read without loading its tensors (the
    rolling checkpoints say it in their name)."""
    stem = path.stem[len(PREFIX):]
    if path.name.startswith(PREFIX) and stem.isdigit():
        return int(stem)
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        return int(raw["tick"])
    except Exception:
        read(path)  # the clear error for a damaged or foreign file
        raise


def latest(run_dir: Path) -> Path:
    """The run's newest checkpoint: the newest rolling one, or best.pt where it is newer
    (a run stopped between a new best evaluation and its next rolling checkpoint)."""
    found = list_checkpoints(run_dir)
    best = best_path(run_dir)
    if best.is_file() and (not found or tick_of(best) > tick_of(found[-1])):
        return best
    if not found:
        graph = run_dir / "graph.yaml"
        raise checkpoint_error(
            run_dir, "no checkpoint in this run folder",
            hint="checkpoints are written every --checkpoint-every ticks and at the end of "
                 f"`rlgraph run`; without one, start again: rlgraph run {graph}"
            if graph.is_file() else "pass a folder that `rlgraph run` wrote (graph.yaml, "
            "checkpoints/)")
    return found[-1]


def prune(run_dir: Path, keep: int) -> None:
    """Keep the newest `keep` rolling checkpoints (best.pt is not one of them)."""
    for old in list_checkpoints(run_dir)[:-keep]:
        old.unlink(missing_ok=True)
