"""Fuzz the graph-file reader: mutants of the shipped graphs through `rlgraph validate`.

    python tools/fuzz_graphs.py --n 10000 --seed 0 [--keep DIR] [--timeout 5]

Each mutant is one mutation of one shipped graph file (graphs/*.yaml, graphs/lib/*.yaml,
examples/*/*.yaml), made at the text level (deleted, duplicated, swapped or re-indented
lines, stray YAML punctuation, control characters, invalid UTF-8, truncation, huge,
negative, NaN and 4,301-digit numbers, tags like `!!int abc`, deep nesting, alias
fan-out, self-referencing aliases, BOMs, CR line ends, several documents, ...) or at the
data level (deleted keys, values of another type, node types that are unknown,
unimportable, dangerous or non-YAML files, broken wires, delays and triggers, huge or NaN
params, subgraph types that are symlinks to a README, a binary file, a directory, a FIFO,
/dev/zero or a loop). Every mutant runs through `rlgraph validate` in this process, with
its output captured, a time limit and a memory limit, and is classified:

- ok:        exit 0;
- located:   exit 1, and every line the user reads is `file:line:col: error|warning: ...`
             (or an indented continuation, hint or summary);
- messy:     located, but a line echoes raw control characters or runs past 400
             characters (a pasted file, a pasted PyYAML message);
- unlocated: exit 1 with an error line that names no line and column;
- traceback: an exception escaped the command, or it reported an internal error (3);
- hang:      it ran past the time limit.

The goal is 0 tracebacks, 0 hangs, 0 unlocated (tests/test_fuzz_graphs.py runs a few
hundred mutants of a fixed seed in CI). `--keep DIR` writes every mutant that is not ok
or located to DIR, named by class, kind and number, to reproduce it with
`rlgraph validate`.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import random
import re
import resource
import shutil
import signal
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
SOURCE_GLOBS = ("graphs/*.yaml", "graphs/lib/*.yaml", "examples/*/*.yaml")
CLASSES = ("ok", "located", "messy", "unlocated", "traceback", "hang")
MUTANT = "_fuzz.yaml"  # the mutant's name, beside its source (relative paths resolve)
LOCATED = re.compile(r"^(--set .*|.+:\d+:\d+): (error|warning): ")
SUMMARY = re.compile(r"^.+: (\d+ errors?|ok \(.*\))$")
RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\ufeff]")


# ---- mutants ---------------------------------------------------------------------------
@dataclass
class Mutant:
    """A mutated graph file: its bytes, the kind of mutation, and files placed beside it
    (relative name -> symlink target, or bytes to write)."""

    kind: str
    data: bytes
    beside: dict[str, str | bytes] = field(default_factory=dict)


NUMBERS = ["1e12", "1e308", "-1", "-0", "0", ".nan", ".NaN", ".inf", "-.inf",
           str(2**63), str(2**64), "9" * 4301, "1e-400", "0x10", "0o7", "1_000", "1e9",
           "-1e9", "2.5", "3e20", "0.0", "-.5", "1e-30", "18446744073709551616"]
TAGS = ["!!int abc", "!!float x", "!!bool maybe", "!!timestamp abc", "!!binary ***",
        "!!python/object/apply:os.system ['echo fuzz']", "!!python/name:os.system",
        "!!set {a}", "!!omap [a]", "!!null x", "!!str", "!custom x", "!!map [1]",
        "!!seq {a: 1}", "!!int 1e3", "!!float", "!!timestamp 2001-13-45", "!<tag:x> 1",
        "!!python/tuple [1]", "!!merge x", "!!value x", "!!yaml x", "!!pairs [a, b]",
        "!!int " + "9" * 5000]
PUNCTUATION = [*":{}[],&*!|>'\"%@`#-?", ": ", "- ", "{{", "]]", "&a", "*a", "*nope",
               "<<: *a", "? ", "\\", "%TAG"]
CONTROL = ["\x00", "\x01", "\x07", "\x08", "\x0b", "\x0c", "\x1b", "\x7f", "\x85", "\u2028",
           "\u2029", "\ufeff", "\r", "\x1f", "\t"]
BAD_UTF8 = [b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xf8\x88\x80\x80\x80", b"\x80",
            b"\xe2\x82", b"\xfe\xff"]
NODE_TYPES = ["MLP", "GymEnv", "DQNLoss", "Adam", "ReplayBuffer", "Nope", "os:system",
              "nosuchmod:Foo", "nosuchmod.sub:Foo", "my_losses:Nope", "my_losses:MSELoss",
              "rlgraph.core:Node", "builtins:int", "rlgraph.nodes:GymEnv", ":", "a:",
              ":b", "", "x" * 300, "./lib/dqn_learner.yaml", "./missing.yaml",
              "../README.md", "lib/dqn_learner.yaml", "./_fuzz.yaml", "/etc/passwd",
              "./lib", "dqn.yaml", "ÿ\u2028", "my_losses:MSELoss.x", "rlgraph:__version__"]
ENV_IDS = ["nosuchmod:Foo-v0", "CartPole-v999", "", "Foo", "gymnasium:CartPole-v1",
           "ALE/Pong-v5", "os:system", "CartPole-v1", "Acrobot-v1", "a" * 500]
REFS = ["a.b", "nonexistent.port", "env", ".x", "x.", "env.", ".", "env.nope", "qnet.module",
        "env.obs", "policy.action", "env.spec", "a.b.c", "env..obs", "env.obs.x"]
LINK_TARGETS = ["README.md", "binary.bin", "/dev/zero", "/dev/urandom", "lib", "dangling",
                "loop", "fifo", "big.yaml"]


def mutants(seed: int, n: int, sources: list[Path], start: int = 0
            ) -> Iterator[tuple[int, Path, Mutant]]:
    """Mutants start .. start + n - 1, the i-th from random.Random(f"{seed}-{i}") alone
    (reproducible one by one)."""
    kinds = list(TEXT_MUTATIONS) + list(DATA_MUTATIONS) + ["symlink"]
    for i in range(start, start + n):
        rng = random.Random(f"{seed}-{i}")
        source = rng.choice(sources)
        kind = rng.choice(kinds)
        text = source.read_text(encoding="utf-8")
        yield i, source, mutate(rng, kind, text)


def mutate(rng: random.Random, kind: str, text: str) -> Mutant:
    if kind in TEXT_MUTATIONS:
        out = TEXT_MUTATIONS[kind](rng, text)
        return Mutant(kind, out if isinstance(out, bytes) else out.encode("utf-8",
                                                                           "surrogatepass"))
    if kind == "symlink":
        return _symlink(rng, text)
    data = yaml.safe_load(text)
    DATA_MUTATIONS[kind](rng, data)
    return Mutant(kind, _dump(data))


def _dump(data: Any) -> bytes:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True).encode("utf-8")


# -- text level --
def _lines(text: str) -> list[str]:
    return text.split("\n")


def _pos(rng: random.Random, text: str) -> int:
    return rng.randrange(len(text) + 1)


def _value_spans(text: str) -> list[tuple[int, int]]:
    """Positions of scalar values after `key: ` or inside flow collections."""
    return [m.span(1) for m in re.finditer(r"(?:: |\[|, )([^\s,\[\]{}#:][^,\[\]{}#\n]*)",
                                           text)]


def _replace_value(rng: random.Random, text: str, new: str) -> str:
    spans = _value_spans(text)
    if not spans:
        return text + new
    a, b = rng.choice(spans)
    return text[:a] + new + text[b:]


def _number_spans(text: str) -> list[tuple[int, int]]:
    return [m.span() for m in re.finditer(r"(?<![\w.])-?\d+(\.\d*)?([eE][-+]?\d+)?(?![\w.])",
                                          text)]


def t_delete_line(rng, text):
    lines = _lines(text)
    del lines[rng.randrange(len(lines))]
    return "\n".join(lines)


def t_duplicate_line(rng, text):
    lines = _lines(text)
    i = rng.randrange(len(lines))
    lines.insert(rng.randrange(len(lines) + 1), lines[i])
    return "\n".join(lines)


def t_swap_lines(rng, text):
    lines = _lines(text)
    i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
    lines[i], lines[j] = lines[j], lines[i]
    return "\n".join(lines)


def t_indent(rng, text):
    lines = _lines(text)
    i = rng.randrange(len(lines))
    lines[i] = (" " * rng.choice([1, 2, 3, 4, 8]) + lines[i] if rng.random() < 0.6
                else lines[i].lstrip(" ")[: len(lines[i])])
    return "\n".join(lines)


def t_delete_chars(rng, text):
    a = _pos(rng, text)
    return text[:a] + text[a + rng.randint(1, 40):]


def t_punctuation(rng, text):
    a = _pos(rng, text)
    return text[:a] + rng.choice(PUNCTUATION) + text[a:]


def t_control_char(rng, text):
    a = _pos(rng, text)
    return text[:a] + rng.choice(CONTROL) * rng.randint(1, 3) + text[a:]


def t_invalid_utf8(rng, text):
    data = text.encode("utf-8")
    a = rng.randrange(len(data) + 1)
    return data[:a] + rng.choice(BAD_UTF8) + data[a:]


def t_truncate(rng, text):
    return text[:_pos(rng, text)]


def t_number(rng, text):
    spans = _number_spans(text)
    new = rng.choice(NUMBERS)
    if not spans:
        return _replace_value(rng, text, new)
    a, b = rng.choice(spans)
    return text[:a] + new + text[b:]


def t_tag(rng, text):
    return _replace_value(rng, text, rng.choice(TAGS))


def t_alias_fanout(rng, text):
    """A billion-laughs block: 9 levels of 9 aliases each, used as a param value."""
    levels = rng.randint(4, 9)
    width = rng.randint(5, 10)
    lines = ["x0: &l0 [" + ", ".join(["lol"] * width) + "]"]
    for k in range(1, levels):
        lines.append(f"x{k}: &l{k} [" + ", ".join([f"*l{k - 1}"] * width) + "]")
    block = "\n".join(lines) + "\n"
    body = _replace_value(rng, text, f"*l{levels - 1}")
    return "description: |\n  fuzz\n" + block.replace("x", "_x") + body \
        if rng.random() < 0.2 else block + body


def t_self_alias(rng, text):
    return _replace_value(rng, text, rng.choice(["&a [*a]", "&a {x: *a}", "&a [1, [*a]]",
                                                 "*a", "&a [&b [*a, *b]]"]))


def t_deep_nesting(rng, text):
    depth = rng.choice([50, 300, 1000, 5000, 20000])
    shape = rng.choice(["list", "map", "block"])
    if shape == "list":
        value = "[" * depth + "1" + "]" * depth
    elif shape == "map":
        value = "{a: " * depth + "1" + "}" * depth
    else:
        value = "\n" + "".join("  " * (k + 2) + "- \n" for k in range(min(depth, 2000)))
    return _replace_value(rng, text, value)


def t_long_line(rng, text):
    return _replace_value(rng, text, "x" * rng.choice([10_000, 200_000, 2_000_000]))


def t_big_file(rng, text):
    copies = rng.choice([100, 3000, 30_000])
    return text + ("\n# padding " + "p" * 80) * copies


def t_bom(rng, text):
    return "\ufeff" + text if rng.random() < 0.5 else text.replace("\n", "\n\ufeff", 1)


def t_line_ends(rng, text):
    return text.replace("\n", rng.choice(["\r\n", "\r", "\n\r", "\x85", "\u2028"]))


def t_tabs(rng, text):
    lines = _lines(text)
    i = rng.randrange(len(lines))
    lines[i] = lines[i].replace("  ", "\t", 1) if rng.random() < 0.7 else "\t" + lines[i]
    return "\n".join(lines)


def t_empty(rng, text):
    return rng.choice(["", " ", "\n\n", "# only a comment\n", "---\n", "...\n", "~\n",
                       "null\n", "[]\n", "{}\n", "42\n", "'text'\n", "- a\n- b\n",
                       "nodes:\n", "nodes: []\n", "nodes: {}\n", "nodes: 3\n"])


def t_separators(rng, text):
    a = _pos(rng, text)
    return text[:a] + rng.choice(["\u2028", "\u0085", "\u2029", "\u00a0", "\u200b"]) + text[a:]


def t_rename_key(rng, text):
    keys = list(re.finditer(r"^(\s*)(\w+):", text, re.M))
    if not keys:
        return text
    m = rng.choice(keys)
    new = rng.choice(["typ", "parms", "inn", "evry", "nodes", "in", "out", "", "on",
                      "123", "a b", "from", "x" * 200, "type", "params"])
    return text[:m.start(2)] + new + text[m.end(2):]


def t_merge(rng, text):
    return _replace_value(rng, text, rng.choice(
        ["{<<: *nope}", "{<<: [1, 2]}", "{<<: 3}", "&m {a: 1}", "{<<: &m {a: 1}, b: 2}",
         "{<<: [&m {a: 1}, *m]}"]))


def t_documents(rng, text):
    return rng.choice([text + "\n---\n" + text, "---\n" + text + "\n...\n",
                       "%YAML 1.1\n---\n" + text, "%YAML 2.0\n---\n" + text,
                       "%TAG ! tag:x,2000:\n---\n" + text, "--- |\n" + text])


def t_duplicate_key(rng, text):
    keys = list(re.finditer(r"^(\s*)(\w+):.*$", text, re.M))
    if not keys:
        return text
    m = rng.choice(keys)
    return text[:m.end()] + "\n" + m.group(0) + text[m.end():]


TEXT_MUTATIONS: dict[str, Callable[[random.Random, str], str | bytes]] = {
    name.removeprefix("t_"): fn for name, fn in list(globals().items())
    if name.startswith("t_") and callable(fn)}


# -- data level --
def _walk(data: Any, path: tuple = ()) -> Iterator[tuple[tuple, Any]]:
    yield path, data
    if isinstance(data, dict):
        for k, v in data.items():
            yield from _walk(v, (*path, k))
    elif isinstance(data, list):
        for i, v in enumerate(data):
            yield from _walk(v, (*path, i))


def _set(data: Any, path: tuple, value: Any) -> None:
    for k in path[:-1]:
        data = data[k]
    data[path[-1]] = value


def _nodes(data: Any) -> dict:
    nodes = data.get("nodes") if isinstance(data, dict) else None
    return nodes if isinstance(nodes, dict) and nodes else {}


def _some_node(rng: random.Random, data: Any) -> dict | None:
    bodies = [b for b in _nodes(data).values() if isinstance(b, dict)]
    return rng.choice(bodies) if bodies else None


def _other_value(rng: random.Random) -> Any:
    return rng.choice([None, 0, -1, 1.5, float("nan"), float("inf"), "", "text", [],
                       [1, 2], {}, {"a": 1}, True, 2**63, 10**12, [[1]], {"from": "a.b"},
                       "1e3", -(2**70), 1e-320])


def d_delete_key(rng, data):
    paths = [p for p, _ in _walk(data) if p]
    if paths:
        path = rng.choice(paths)
        parent = data
        for k in path[:-1]:
            parent = parent[k]
        del parent[path[-1]]


def d_type_swap(rng, data):
    paths = [p for p, _ in _walk(data) if p]
    if paths:
        _set(data, rng.choice(paths), _other_value(rng))


def d_node_type(rng, data):
    node = _some_node(rng, data)
    if node is not None:
        node["type"] = rng.choice(NODE_TYPES)


def d_wire(rng, data):
    node = _some_node(rng, data)
    if node is None:
        return
    wires = node.setdefault("in", {}) if isinstance(node.get("in", {}), dict) else {}
    port = rng.choice([*wires, "obs", "nope", "action", "q"]) if wires is not None else "x"
    ref = rng.choice(REFS)
    choice = rng.random()
    if choice < 0.4:
        wires[port] = ref
    elif choice < 0.8:
        wires[port] = {"from": ref, "delay": rng.choice([1, 0, -1, 2**63, 10**9, "abc",
                                                         1.5, None, float("nan"), 3])}
        if rng.random() < 0.3:
            wires[port]["init"] = _other_value(rng)
    else:
        wires[port] = _other_value(rng)


def d_trigger(rng, data):
    node = _some_node(rng, data)
    if node is None:
        return
    key = rng.choice(["every", "after", "until", "repeat", "on"])
    node[key] = rng.choice([0, 1, 2, 5, -1, 2**63, 10**12, "abc", None, 1.5, [1],
                            float("nan"), "env.episode_end", "a.b", "env.spec", "nope"])


def d_param(rng, data):
    node = _some_node(rng, data)
    if node is None:
        return
    params = node.get("params")
    if not isinstance(params, dict):
        params = node["params"] = {}
    key = rng.choice([*params, "nope", "capacity", "batch_size", "hidden", "lr", "gamma",
                      "seed", "num_envs", "tau", "decay_steps"])
    params[key] = rng.choice([
        1e12, 10**12, 2**63, 2**64, -1, 0, float("nan"), float("inf"), -float("inf"),
        "abc", None, [], [1e12], [2**63], [30000, 30000], [0], [-1], [float("nan")], 1e9,
        10**9, {"a": 1}, True, 1e-320, 0.5, 100000, [64, 64], "CartPole-v1"])


def d_env_id(rng, data):
    for body in _nodes(data).values():
        if isinstance(body, dict) and body.get("type") == "GymEnv":
            params = body.get("params")
            if isinstance(params, dict):
                params["id"] = rng.choice(ENV_IDS)
                if rng.random() < 0.3:
                    params["kwargs"] = rng.choice([{"max_episode_steps": -1}, {"x": 1},
                                                   "abc", [1], {"render_mode": "human"}])


def d_nodes(rng, data):
    nodes = _nodes(data)
    if not nodes:
        return
    name = rng.choice(list(nodes))
    choice = rng.random()
    if choice < 0.4:
        del nodes[name]
    elif choice < 0.7:
        nodes[rng.choice([name + "2", "a.b", "1x", "", "x" * 200, "in", name.upper()])] = \
            nodes[name]
    else:
        nodes[name] = _other_value(rng)


def d_top_level(rng, data):
    if isinstance(data, dict):
        key = rng.choice(["seed", "steps", "name", "device", "nodes", "inputs", "outputs",
                          "params", "description", "nope"])
        data[key] = rng.choice([-1, 2**64, 10**12, "abc", None, [], {}, "cuda:99", "tpu",
                                float("nan"), {"a": "b.c"}, {"a": ["x.y", 3]}, 1.5, True])


def d_repeat(rng, data):
    """`repeat` on one node with another node's type broken: the repeat check must
    not run on a spec with a missing node."""
    nodes = [b for b in _nodes(data).values() if isinstance(b, dict)]
    if len(nodes) >= 2:
        a, b = rng.sample(nodes, 2)
        a["repeat"] = rng.choice([2, 3, 64])
        b["type"] = rng.choice(["Nope", "os:system", "", None, 3, "nosuchmod:Foo"])


DATA_MUTATIONS: dict[str, Callable[[random.Random, Any], None]] = {
    name.removeprefix("d_"): fn for name, fn in list(globals().items())
    if name.startswith("d_") and callable(fn)}


def _symlink(rng: random.Random, text: str) -> Mutant:
    """A node type (or, via a second hop, a subgraph inside it) that is a symlink to a
    file that is not a graph."""
    data = yaml.safe_load(text)
    target = rng.choice(LINK_TARGETS)
    node = _some_node(rng, data)
    if node is not None:
        node["type"] = "./_fuzz_link.yaml"
        for key in ("params", "in"):
            if rng.random() < 0.5:
                node.pop(key, None)
    beside: dict[str, str | bytes] = {"_fuzz_link.yaml": target}
    return Mutant(f"symlink to {target}", _dump(data), beside)


# ---- running one mutant ------------------------------------------------------------------
class Hang(BaseException):
    """The time limit passed (a BaseException: `except Exception` in the code under test
    does not swallow it)."""


@dataclass
class Outcome:
    cls: str
    rc: int | None
    output: str
    seconds: float


def prepare_workspace(folder: Path) -> None:
    """A copy of the graphs and examples, plus the odd files symlinks point at."""
    for name in ("graphs", "examples"):
        shutil.copytree(ROOT / name, folder / name)
    shutil.copy(ROOT / "README.md", folder / "README.md")
    (folder / "binary.bin").write_bytes(bytes(range(256)) * 40)
    (folder / "big.yaml").write_text("# big\n" + "x: 1\n" * 3_000_000, encoding="utf-8")


def place_beside(where: Path, workspace: Path, beside: dict[str, str | bytes]) -> list[Path]:
    made = []
    for name, what in beside.items():
        path = where / name
        if isinstance(what, bytes):
            path.write_bytes(what)
        elif what == "dangling":
            path.symlink_to(where / "_no_such_target.yaml")
        elif what == "loop":
            path.symlink_to(where / "_fuzz_loop.yaml")
            (where / "_fuzz_loop.yaml").symlink_to(path)
            made.append(where / "_fuzz_loop.yaml")
        elif what == "fifo":
            os.mkfifo(path)
        elif what == "lib":
            path.symlink_to(workspace / "graphs" / "lib", target_is_directory=True)
        else:
            path.symlink_to(what if what.startswith("/") else workspace / what)
        made.append(path)
    return made


def classify(rc: int | None, output: str) -> str:
    if rc == 0:
        return "ok"
    if rc != 1:
        return "traceback"
    cls = "located"
    for line in output.splitlines():
        if not line or line.startswith(" ") or SUMMARY.match(line):
            if len(line) > 400 or RAW_CONTROL.search(line):
                cls = "messy"
            continue
        if not LOCATED.match(line):
            return "unlocated"
        if len(line) > 400 or RAW_CONTROL.search(line):
            cls = "messy"
    return cls


def run_one(path: Path, timeout: float) -> Outcome:
    from rlgraph.cli import main

    def alarm(signum: int, frame: Any) -> None:
        raise Hang

    out, err = io.StringIO(), io.StringIO()
    old = signal.signal(signal.SIGALRM, alarm)
    start = time.perf_counter()
    rc: int | None = None
    cls = None
    try:
        signal.setitimer(signal.ITIMER_REAL, timeout)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc = main(["validate", str(path)])
    except Hang:
        cls = "hang"
    except SystemExit as exc:  # argparse: a usage error is not what we fuzz
        rc = exc.code if isinstance(exc.code, int) else 2
    except BaseException:
        cls = "traceback"
        err.write(traceback.format_exc())
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    seconds = time.perf_counter() - start
    text = err.getvalue()
    return Outcome(cls or classify(rc, text), rc, out.getvalue() + text, seconds)


def limit_memory(gigabytes: float) -> None:
    """Cap this process's address space `gigabytes` above what it uses now, so that a
    mutant that would eat the machine raises MemoryError (counted as a traceback)."""
    with open("/proc/self/statm") as f:
        used = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    cap = used + int(gigabytes * 2**30)
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))


@dataclass
class Report:
    counts: Counter = field(default_factory=Counter)
    by_kind: dict[str, Counter] = field(default_factory=dict)
    examples: dict[str, list[tuple[int, str, str]]] = field(default_factory=dict)
    slowest: tuple[float, int, str] = (0.0, -1, "")
    seconds: float = 0.0
    n: int = 0

    def add(self, i: int, kind: str, source: str, outcome: Outcome) -> None:
        self.n += 1
        self.counts[outcome.cls] += 1
        self.by_kind.setdefault(outcome.cls, Counter())[kind] += 1
        if outcome.cls not in ("ok", "located"):
            self.examples.setdefault(outcome.cls, []).append(
                (i, f"{kind} of {source}", outcome.output[-600:]))
        if outcome.seconds > self.slowest[0]:
            self.slowest = (outcome.seconds, i, kind)

    def format(self) -> str:
        lines = [f"{self.n} mutants in {self.seconds:.1f} s"]
        lines += [f"  {c:<10} {self.counts.get(c, 0):>6}" for c in CLASSES]
        lines.append(f"  slowest: {self.slowest[0]:.2f} s (mutant {self.slowest[1]}, "
                     f"{self.slowest[2]})")
        for cls in CLASSES[2:]:
            if cls in self.by_kind:
                kinds = ", ".join(f"{k} {n}" for k, n in self.by_kind[cls].most_common())
                lines.append(f"  {cls} by kind: {kinds}")
        return "\n".join(lines)


def fuzz(n: int, seed: int, timeout: float = 5.0, keep: Path | None = None,
         progress: bool = False, memory_gb: float | None = 4.0, start: int = 0) -> Report:
    """Run n mutants of fixed seed (from number `start`); the report of their classes."""
    if memory_gb:
        limit_memory(memory_gb)
    report = Report()
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="rlgraph-fuzz-") as tmp:
        workspace = Path(tmp)
        prepare_workspace(workspace)
        sources = sorted(p for g in SOURCE_GLOBS for p in workspace.glob(g)
                         if p.name != MUTANT)
        for i, source, mutant in mutants(seed, n, sources, start):
            path = source.parent / MUTANT
            path.write_bytes(mutant.data)
            made = place_beside(source.parent, workspace, mutant.beside)
            try:
                outcome = run_one(path, timeout)
            finally:
                for extra in [path, *made]:
                    extra.unlink(missing_ok=True)
            rel = str(source.relative_to(workspace))
            report.add(i, mutant.kind, rel, outcome)
            if keep is not None and outcome.cls not in ("ok", "located"):
                _keep(keep, i, outcome.cls, mutant, rel, outcome.output)
            if progress and report.n % 500 == 0:
                print(f"{report.n}: {dict(report.counts)}", file=sys.stderr, flush=True)
    report.seconds = time.perf_counter() - began
    return report



def _keep(folder: Path, i: int, cls: str, mutant: Mutant, source: str, output: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    stem = f"{cls}-{i:05d}-{re.sub(r'[^a-z0-9]+', '_', mutant.kind)}"
    (folder / f"{stem}.yaml").write_bytes(mutant.data)
    (folder / f"{stem}.txt").write_text(f"source: {source}\nbeside: {mutant.beside}\n\n"
                                        f"{output}", encoding="utf-8", errors="replace")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=10_000, help="mutants (default 10000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--start", type=int, default=0,
                        help="number of the first mutant (to run a long fuzz in parts)")
    parser.add_argument("--timeout", type=float, default=5.0,
                        help="seconds before a mutant counts as a hang (default 5)")
    parser.add_argument("--memory-gb", type=float, default=4.0,
                        help="address space allowed above the start (default 4 GB)")
    parser.add_argument("--keep", type=Path, help="write the bad mutants here")
    parser.add_argument("--show", type=int, default=3,
                        help="examples printed per bad class (default 3)")
    args = parser.parse_args(argv)
    report = fuzz(args.n, args.seed, args.timeout, args.keep, progress=True,
                  memory_gb=args.memory_gb, start=args.start)
    print(report.format())
    for cls, found in report.examples.items():
        for i, what, output in found[: args.show]:
            print(f"\n--- {cls}: mutant {i}, {what}\n{output.strip()}")
    bad = sum(report.counts.get(c, 0) for c in ("unlocated", "traceback", "hang"))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
