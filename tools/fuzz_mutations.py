"""The mutations of tools/fuzz_graphs.py: one shipped graph file in, one broken one out.

Text-level mutations (`t_*`) work on the file's text or bytes; data-level ones (`d_*`)
on its parsed YAML, dumped again; `symlink` points a node's `type:` at a file that is
not a graph. `mutants(seed, n, sources)` yields them reproducibly: mutant i depends on
the seed and i alone.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


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
