"""Checkpoints: a built graph's whole state in one file, written atomically, read safely.

A checkpoint is `torch.save` of plain containers only (dicts, lists, tuples, numbers,
strings, bytes, tensors), so it is read back with `torch.load(weights_only=True)`, which
builds no arbitrary objects. Node state that is not plain (numpy arrays, deques, named
tuples, the "absent" marker on delayed wires) is encoded as tagged dicts and decoded
after loading, without running any class's constructor (a record, named tuple or
dataclass is made with `__new__` and its fields set; its class must already be loaded:
a checkpoint imports nothing). Environments are data too (rlgraph.nodes.envstate); an
env without a state adapter is a pickle that GymEnv reads with the one restricted
unpickler (rlgraph.nodes.safe_pickle), and a refusal names the file.
"""

from __future__ import annotations

import dataclasses
import math
import os
import random
import sys
from collections import OrderedDict, deque
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch

from ..core import ABSENT, Graph, GraphError, GraphErrors, Loc, Node
from ..core.errors import shown
from ..core.ports import Kind
from ..nodes.safe_pickle import UnsafePickle

FORMAT = "rlgraph-checkpoint"
#: 2: EpsilonGreedy keeps a numpy generator and the replay writes in batches; a version
#: 1 run cannot continue on the same random streams.
#: 3: GymEnv saves its envs as data (rlgraph.nodes.envstate), a list under "envs".
VERSION = 3
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
    # objects are made with __new__ and their fields set: no constructor runs
    if tag == "namedtuple":
        cls = _loaded_class(value["type"], tuple)
        items = tuple(decode(v) for v in value["items"])
        if len(items) != len(getattr(cls, "_fields", ())):
            raise ValueError(f"{value['type']} has {len(cls._fields)} fields, not "  # type: ignore[attr-defined]
                             f"{len(items)}")
        return tuple.__new__(cls, items)
    if tag == "record":
        cls = _loaded_class(value["type"], SimpleNamespace)
        record: SimpleNamespace = SimpleNamespace.__new__(cls)
        record.__dict__.update({str(k): decode(v) for k, v in value["fields"].items()})
        return record
    if tag == "dataclass":
        cls = _loaded_class(value["type"], object)
        if not dataclasses.is_dataclass(cls):
            raise ValueError(f"{value['type']} is not a dataclass")
        names = {f.name for f in dataclasses.fields(cls)}
        fields = {str(k): decode(v) for k, v in value["fields"].items()}
        if set(fields) != names:
            raise ValueError(f"{value['type']} has the fields {sorted(names)}, not "
                             f"{sorted(fields)}")
        obj = object.__new__(cls)
        for k, v in fields.items():
            object.__setattr__(obj, k, v)  # frozen dataclasses too
        return obj
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
    try:
        with open(tmp, "wb") as f:
            torch.save(payload, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:  # a full disk, a Ctrl-C: no half-written file is left
        tmp.unlink(missing_ok=True)
        # torch.save reports a full disk as a RuntimeError of its zip writer raised
        # while handling the OSError: the OSError is what happened
        cause = exc.__cause__ or exc.__context__
        if isinstance(exc, RuntimeError) and isinstance(cause, OSError):
            raise cause from None
        raise


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
        payload = decode(raw)
    except Exception as exc:  # a tag or field a checkpoint never holds
        raise checkpoint_error(path, f"damaged checkpoint: {_exception_text(exc)}") from None
    problem = layout_problem(payload)
    if problem:
        raise checkpoint_error(path, f"damaged checkpoint: {problem}",
                               hint="use another file from the run's checkpoints/ folder")
    return payload


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def layout_problem(payload: dict[str, Any]) -> str | None:
    """What is missing or malformed in a decoded payload's own fields (node states are
    checked by the nodes that load them), or None."""
    if not isinstance(payload.get("graph"), str):
        return "no graph name"
    if not _is_count(payload.get("tick")):
        return f"the tick is {shown(payload.get('tick'))}, not a count of ticks"
    types, without = payload.get("types"), payload.get("without")
    if not isinstance(types, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in types.items()):
        return "the node types are missing or malformed"
    if not isinstance(without, list) or not all(isinstance(n, str) for n in without):
        return "the list of nodes saved without state is missing or malformed"
    rng = payload.get("rng")
    if not isinstance(rng, dict) or set(rng) != {"torch", "numpy", "python"}:
        return "the process-wide random generators are missing or malformed"
    state = payload.get("state")
    if not isinstance(state, dict) or not isinstance(state.get("nodes"), dict):
        return "the graph state is missing or malformed"
    if state.get("tick") != payload["tick"]:
        return f"the graph state is at tick {shown(state.get('tick'))}, the file says " \
               f"{payload['tick']}"
    extra = payload.get("extra")
    if not isinstance(extra, dict):
        return "the run's own numbers (wall time, total ticks) are missing"
    for key, what in (("wall_s", "wall time"), ("eval_s", "time spent evaluating")):
        seconds = extra.get(key, 0.0)
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) \
                or not math.isfinite(seconds) or seconds < 0:
            return f"the {what} is {shown(seconds)}, not a number of seconds"
    if "total" in extra and not _is_count(extra["total"]):
        return f"the run's total is {shown(extra['total'])}, not a count of ticks"
    return _evaluation_problem(extra.get("evaluation"))


def _evaluation_problem(saved: Any) -> str | None:
    """What is wrong with a checkpoint's evaluations (RunEvaluation.state_dict), or None."""
    if saved is None:  # a run that did not evaluate, or an rlgraph older than evaluations
        return None
    if not isinstance(saved, dict) or not all(
            _is_count(saved.get(k)) for k in ("every", "episodes", "final_episodes")):
        return "the run's evaluation schedule is missing or malformed"
    rows, best = saved.get("rows"), saved.get("best")
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows) \
            or not (best is None or isinstance(best, dict)):
        return "the run's evaluations are missing or malformed"
    return None


def _exception_text(exc: BaseException) -> str:
    """An exception as one short clause of a message."""
    if isinstance(exc, KeyError):
        return f"{exc} is missing"
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 200 else f"{text[:200]}…"


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
    try:
        graph.load_state_dict({**state, "nodes": {}})
    except Exception as exc:  # the checkpoint is input; any failure here is its damage
        raise checkpoint_error(path, f"damaged checkpoint: graph state: "
                               f"{_exception_text(exc)}") from None
    for name, node_state in nodes.items():
        node = graph.nodes[name]
        try:
            node.load_state_dict(node_state)
        except UnsafePickle as exc:
            raise checkpoint_error(
                path, f"node '{name}' ({type(node).__name__}): refusing to unpickle: {exc}",
                hint="a checkpoint holds data and, for envs without a state adapter, "
                     "pickles of the env's own classes only; this file was not written by "
                     "rlgraph, or names other code") from None
        except Exception as exc:
            raise checkpoint_error(
                path, f"node '{name}' ({type(node).__name__}) does not match this "
                f"checkpoint: {_exception_text(exc)}",
                hint="the checkpoint was saved from a graph with other params "
                     "(layer sizes, num_envs, ...), or it is damaged") from None
    try:
        set_global_rng_state(payload["rng"])
    except Exception as exc:
        raise checkpoint_error(path, f"damaged checkpoint: the process-wide random "
                               f"generators: {_exception_text(exc)}") from None


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
