"""The `rlgraph` command: exit codes, messages, no tracebacks for user mistakes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from support import FIXTURES

from rlgraph.cli import main

CLI = FIXTURES / "cli"
TESTS = Path(__file__).parent


def run_cli(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(TESTS), env_path()]))
    return subprocess.run([sys.executable, "-m", "rlgraph", *args], capture_output=True,
                          text=True, env=env, timeout=120)


def env_path() -> str:
    return os.environ.get("PYTHONPATH", "")


def test_validate_ok_exits_zero(capsys):
    assert main(["validate", str(CLI / "ok.yaml")]) == 0
    assert "ok.yaml: ok (3 nodes)" in capsys.readouterr().out


def test_validate_reports_all_errors_and_exits_one(capsys):
    code = main(["validate", str(CLI / "broken.yaml"), str(CLI / "ok.yaml")])
    err = capsys.readouterr().err
    assert code == 1
    assert "broken.yaml:3:" in err and "no param 'strat'" in err and "did you mean 'start'" in err
    assert "broken.yaml:6:" in err and "no output 'cont'" in err
    assert "broken.yaml: 2 errors" in err


def test_validate_in_a_real_process_prints_no_traceback():
    result = run_cli("validate", str(FIXTURES / "invalid" / "malformed_yaml.yaml"),
                     str(FIXTURES / "invalid" / "empty.yaml"))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "malformed_yaml.yaml:4:6: error: malformed YAML" in result.stderr
    assert "empty.yaml:1:1: error: the file is empty" in result.stderr


def test_usage_errors_exit_two():
    result = run_cli("frobnicate")
    assert result.returncode == 2
    assert "invalid choice" in result.stderr
    assert run_cli("run").returncode == 2


def test_run_runs_the_graph_and_writes_a_run_folder(capsys, tmp_path):
    out = tmp_path / "run"
    assert main(["run", str(CLI / "ok.yaml"), "--steps", "250", "--seed", "5",
                 "--set", "double.factor=3", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "cli_ok: 250 ticks" in text and "seed 5" in text and f"results in {out}" in text
    summary = json.loads((out / "summary.json").read_text())
    assert summary["ticks"] == 250 and summary["seed"] == 5
    assert set(summary["seeds"]) == {"count", "total", "double"}
    resolved = (out / "graph.yaml").read_text()
    assert "factor: 3.0" in resolved and "steps: 250" in resolved
    assert (out / "graph.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the resolved graph runs again, identically
    assert main(["run", str(out / "graph.yaml"), "--out", str(tmp_path / "again"),
                 "--quiet"]) == 0
    again = json.loads((tmp_path / "again" / "summary.json").read_text())
    assert again["seeds"] == summary["seeds"] and again["ticks"] == 250


def test_run_never_overwrites_a_run_folder(capsys, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "precious.txt").write_text("keep me")
    assert main(["run", str(CLI / "ok.yaml"), "--out", str(out)]) == 1
    assert "already exists and is not empty" in capsys.readouterr().err
    assert (out / "precious.txt").read_text() == "keep me"


def test_run_of_an_invalid_graph_exits_one(capsys):
    assert main(["run", str(CLI / "broken.yaml")]) == 1
    assert "no param 'strat'" in capsys.readouterr().err


def test_run_without_steps_is_a_user_error(tmp_path, capsys):
    path = tmp_path / "nosteps.yaml"
    path.write_text("nodes:\n  c: {type: 'toy_nodes:Counter'}\n")
    assert main(["run", str(path), "--out", str(tmp_path / "run")]) == 1
    assert "no 'steps'" in capsys.readouterr().err


def test_nodes_lists_and_describes_types(capsys):
    assert main(["nodes"]) == 0
    listing = capsys.readouterr().out
    assert main(["nodes", "toy_nodes:Adder"]) == 0
    text = capsys.readouterr().out
    assert "Emits a + b" in text
    assert "inputs:" in text and "b" in text and "scalar (optional)" in text
    assert "offset" in text and "number, default 0.0" in text
    from rlgraph.core import REGISTRY
    assert all(name in listing for name in REGISTRY.names())


def test_nodes_unknown_type_exits_one(capsys):
    assert main(["nodes", "NoSuchNodeType"]) == 1
    assert "unknown node type 'NoSuchNodeType'" in capsys.readouterr().err


@pytest.mark.parametrize("args", [["validate", "missing.yaml"], ["run", "missing.yaml"]])
def test_missing_file_exits_one(args, capsys):
    assert main(args) == 1
    assert "no such file: missing.yaml" in capsys.readouterr().err


def test_an_internal_error_has_its_own_exit_code_and_asks_for_a_bug_report(tmp_path):
    """A bug (here a node's code raising) is exit 3 with the traceback, never 1, so that
    scripts and CI tell it from a mistake in a graph."""
    graph = tmp_path / "crash.yaml"
    graph.write_text("steps: 10\nnodes:\n  crash:\n    type: workflow_nodes:Crash\n"
                     "    params: {at: 3}\n")
    out = tmp_path / "run"
    result = run_cli("run", str(graph), "--out", str(out), "--quiet", "--no-tensorboard")
    assert result.returncode == 3, result.stderr
    err = result.stderr
    assert "Traceback (most recent call last)" in err and "RuntimeError: boom" in err
    assert "rlgraph: raised by node 'crash' (Crash) at tick 3" in err
    assert ("internal error: RuntimeError: boom\nThis is a bug, not a mistake in your graph "
            "or command") in err and "Please report it with the traceback above" in err
    assert json.loads((out / "summary.json").read_text())["status"] == "failed"


@pytest.mark.parametrize("raised, code", [(BrokenPipeError(), 141), (KeyboardInterrupt(), 130),
                                          (ValueError("a bug"), 3)])
def test_exit_codes_of_what_a_command_can_raise(monkeypatch, capsys, raised, code):
    import rlgraph.cli as cli

    def command(args):
        raise raised
    monkeypatch.setattr(cli, "cmd_nodes", command)
    assert main(["nodes"]) == code
    err = capsys.readouterr().err
    assert ("internal error: ValueError: a bug" in err) == (code == 3)
