"""Broken and hostile graph files: each a located error, in one clean line, quickly.

The bulk check runs tools/fuzz_graphs.py on a few hundred mutants of the shipped graphs
(the 10,000-mutant figure is in the harness's docstring and the issue-19 note); the
tests below pin the cases it found, one by one."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rlgraph.cli import main
from rlgraph.core import yamlsrc

ROOT = Path(__file__).resolve().parent.parent
GRAPHS = ROOT / "graphs"


def test_a_few_hundred_mutants_give_no_traceback_hang_or_unlocated_error():
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get(
        "PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, str(ROOT / "tools" / "fuzz_graphs.py"), "--n",
                           "400", "--seed", "1", "--timeout", "5", "--show", "2"],
                          capture_output=True, text=True, env=env, timeout=300)
    counts = dict(re.findall(r"^  (\w+) +(\d+)$", done.stdout, re.M))
    assert counts.keys() >= {"ok", "located", "traceback", "hang", "unlocated", "messy"}, \
        done.stdout + done.stderr
    bad = {k: int(counts[k]) for k in ("traceback", "hang", "unlocated", "messy")}
    assert bad == dict.fromkeys(bad, 0), done.stdout
    assert int(counts["located"]) > 200 and int(counts["ok"]) > 20  # mutants that mean it
    assert done.returncode == 0


def validate(tmp_path: Path, data: bytes | str, capsys, name: str = "g.yaml"
             ) -> tuple[int, str]:
    path = tmp_path / name
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    start = time.perf_counter()
    rc = main(["validate", str(path)])
    assert time.perf_counter() - start < 10.0  # a guard against hangs, not a benchmark
    err = capsys.readouterr().err
    for line in err.splitlines():  # one clean line per problem, invisible characters escaped
        assert line.startswith((f"{tmp_path}/", "    ")), err
        assert len(line) < 400 and line.isprintable(), err
    return rc, err


BASE = (GRAPHS / "dqn.yaml").read_text(encoding="utf-8")
LR = re.search(r"lr: [0-9.e-]+", BASE).group()  # whatever the shipped graph's lr is


HOSTILE = {
    "control character": (BASE.replace("seed: 1", "seed: 1\x1f"),
                          r":7:8: error: character U\+001F is not allowed"),
    "!!float x": (BASE.replace(LR, "lr: !!float x"),
                  r":\d+:\d+: error: cannot read 'x' as a number \(!!float\)"),
    "!!int abc": (BASE.replace("seed: 1", "seed: !!int abc"),
                  r":7:7: error: cannot read 'abc' as an integer"),
    "!!bool maybe": (BASE.replace("seed: 1", "seed: !!bool maybe"),
                     "cannot read 'maybe' as true or false"),
    "!!timestamp abc": (BASE.replace("seed: 1", "seed: !!timestamp abc"),
                        "cannot read 'abc' as a date"),
    "4301 digits": (BASE.replace("seed: 1", "seed: " + "9" * 4301),
                    r":7:7: error: a number of 4301 digits"),
    "python tag": (BASE.replace("seed: 1", "seed: !!python/object/apply:os.system [echo]"),
                   "tag '!!python/object/apply:os.system' is not used in graph files"),
    "deep nesting": (BASE.replace("seed: 1", "seed: " + "[" * 5000 + "]" * 5000),
                     r":7:\d+: error: values nested deeper than 64 levels"),
    "self alias": (BASE.replace("seed: 1", "seed: &a [1, *a]"),
                   r":7:14: error: alias '\*a' is inside the value it names"),
    "billion laughs": ("l0: &l0 [a, a, a, a, a, a, a, a, a, a]\n" + "".join(
        f"l{k}: &l{k} [" + ", ".join([f"*l{k - 1}"] * 10) + "]\n" for k in range(1, 9))
        + BASE.replace("seed: 1", "seed: *l8"),
        r":\d+:\d+: error: aliases repeat more than 10,000 values"),
    "line breaks in a wire": (BASE.replace("obs: env.obs", "obs: en\r\r\rv.obs"),
                              r"input 'obs' must name an output as 'node.port', got string "
                              r"'en\\n\\nv.obs'"),
    "BOM inside": ("# a comment\n" + BASE.replace("\n", "\n\ufeff", 1),
                   r"unknown top-level key '\\ufeff"),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_text_is_one_located_error(tmp_path, capsys, case):
    text, expected = HOSTILE[case]
    rc, err = validate(tmp_path, text, capsys)
    assert rc == 1 and re.search(expected, err), err
    assert err.count(": error: ") == 1, err  # once: no second error for the same value


def test_bytes_that_are_not_utf8_are_located_at_their_line_and_column(tmp_path, capsys):
    data = BASE.encode().replace(b"seed: 1", b"seed: 1 \xff\xfe")
    rc, err = validate(tmp_path, data, capsys)
    assert rc == 1 and ":7:9: error: bytes ff are not UTF-8 text" in err


def test_a_file_too_large_is_refused_before_it_is_parsed(tmp_path, capsys):
    rc, err = validate(tmp_path, BASE + "#" * (yamlsrc.MAX_FILE_BYTES + 1), capsys)
    assert rc == 1 and ":1:1: error: the file is 1.0 MB; a graph file is at most 1 MB" in err


@pytest.mark.parametrize("target, expected", [
    ("notes.txt", r"sub.yaml:1:1: error: the top level must be a mapping with 'nodes:', got "
                  r"string 'Lorem ipsum dolor sit amet Lorem ipsum dolor sit amet Lorem… "
                  r"\(2699 characters\)\n"),
    ("README.md", r"sub.yaml:\d+:\d+: error: malformed YAML: "),
    ("lib", r"g.yaml:\d+:\d+: error: node 'qnet': subgraph './sub.yaml': cannot read .*: it "
            r"is a folder"),
    ("fifo", r"g.yaml:\d+:\d+: error: node 'qnet': subgraph './sub.yaml': cannot read .*: "
             r"it is not a regular file"),
    ("/dev/zero", r"g.yaml:\d+:\d+: error: node 'qnet': subgraph './sub.yaml': cannot read "
                  r".*: it is not a regular file"),
    ("loop", r"g.yaml:\d+:\d+: error: node 'qnet': no such subgraph file"),
])
def test_a_subgraph_type_that_is_not_a_graph_file(tmp_path, capsys, target, expected):
    (tmp_path / "README.md").write_text((ROOT / "README.md").read_text(encoding="utf-8"))
    (tmp_path / "notes.txt").write_text("Lorem ipsum dolor sit amet " * 100)
    (tmp_path / "lib").mkdir()
    link = tmp_path / "sub.yaml"
    if target == "fifo":
        os.mkfifo(link)
    elif target == "loop":
        link.symlink_to(tmp_path / "loop.yaml")
        (tmp_path / "loop.yaml").symlink_to(link)
    else:
        link.symlink_to(target if target.startswith("/") else tmp_path / target)
    rc, err = validate(tmp_path, BASE.replace("type: MLP", "type: ./sub.yaml"), capsys)
    assert rc == 1 and re.search(expected, err), err
    assert err.count(": error: ") == 1, err  # wires from the node are not errors again


def test_repeat_with_a_node_whose_type_did_not_parse_reports_the_type(tmp_path, capsys):
    text = (GRAPHS / "dqn_target.yaml").read_text(encoding="utf-8").replace(
        "type: Adam", "type: [Adam]")
    rc, err = validate(tmp_path, text, capsys)
    assert rc == 1 and "error: node 'optim': 'type' must be a node type name, got a list" in err
