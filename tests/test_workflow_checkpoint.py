"""Checkpoints: exact resume, Ctrl-C, atomic files, safe loading, clear errors."""

from __future__ import annotations

import io
import json
import os
import shutil
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from workflow_nodes import small_dqn

from rlgraph.cli import main
from rlgraph.workflow import checkpoint as ckpt

CTRL_C = """
  stop:
    type: workflow_nodes:PressCtrlC
    params: {{at: {at}}}
"""
QUIET = ["--quiet", "--no-tensorboard"]


def assert_same_state(a: object, b: object, where: str = "state") -> None:
    """Equal node states (environments are data: physics arrays, generator states)."""
    if isinstance(a, torch.Tensor):
        assert torch.equal(a, b), where
    elif isinstance(a, np.ndarray):
        assert np.array_equal(a, b), where
    elif isinstance(a, SimpleNamespace):  # a record (transition, batch)
        assert type(a) is type(b), where
        assert_same_state(vars(a), vars(b), where)
    elif isinstance(a, dict):
        assert list(a) == list(b), where
        for key in a:
            assert_same_state(a[key], b[key], f"{where}[{key!r}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same_state(x, y, f"{where}[{i}]")
    else:
        assert a == b, where


def final_state(run_dir: Path) -> dict:
    return ckpt.read(ckpt.latest(run_dir))["state"]


@pytest.fixture
def straight(tmp_path: Path) -> Path:
    """The reference: 600 ticks in one go (the Ctrl-C node never fires)."""
    out = tmp_path / "straight"
    (tmp_path / "reference").mkdir()
    graph = small_dqn(tmp_path / "reference", CTRL_C.format(at="[100000]"))
    assert main(["run", str(graph), "--steps", "600", "--out", str(out), *QUIET]) == 0
    return out


def test_run_n_then_resume_n_equals_run_2n(tmp_path, straight, capsys):
    out = tmp_path / "halves"
    graph = small_dqn(tmp_path, CTRL_C.format(at="[100000]"))
    assert main(["run", str(graph), "--steps", "300", "--out", str(out), *QUIET]) == 0
    assert main(["resume", str(out), "--steps", "600", *QUIET]) == 0
    assert "resuming dqn_target from" in capsys.readouterr().out
    assert (out / "metrics.csv").read_text() == (straight / "metrics.csv").read_text()
    a, b = final_state(straight), final_state(out)
    assert b["nodes"]["optim"]["updates"] > 0 and b["tick"] == 600
    assert_same_state(b, a)  # weights, Adam moments, replay, RNGs, env, metrics, epsilon
    assert "steps: 600" in (out / "graph.yaml").read_text()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["resumed_from_tick"] == 300 and summary["status"] == "finished"


def test_ctrl_c_saves_at_a_chunk_boundary_and_resume_continues_exactly(tmp_path, straight,
                                                                        capsys):
    out = tmp_path / "stopped"
    graph = small_dqn(tmp_path, CTRL_C.format(at="[250]"))
    assert main(["run", str(graph), "--steps", "600", "--out", str(out), *QUIET]) == 130
    captured = capsys.readouterr()
    assert "stopping after this chunk of ticks and saving a checkpoint" in captured.err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "interrupted" and 250 < summary["ticks"] < 600
    assert summary["checkpoint"].endswith(f"ckpt-{summary['ticks']:09d}.pt")
    assert f"continue with: rlgraph resume {out}" in captured.out
    assert main(["resume", str(out), *QUIET]) == 0  # to the graph's steps: 600
    for file in ("metrics.csv", "eval.csv"):  # evaluations continue on their schedule
        assert (out / file).read_text() == (straight / file).read_text(), file
    assert_same_state(final_state(out)["nodes"], final_state(straight)["nodes"])
    best, straight_best = (json.loads((d / "summary.json").read_text())["evaluation"]["best"]
                           for d in (out, straight))
    assert best.pop("checkpoint") != straight_best.pop("checkpoint") and best == straight_best


def test_a_second_ctrl_c_stops_at_once_without_saving(tmp_path, capsys):
    out = tmp_path / "run"
    graph = small_dqn(tmp_path, CTRL_C.format(at="[150, 151]"))
    assert main(["run", str(graph), "--steps", "600", "--checkpoint-every", "100",
                 "--out", str(out), *QUIET]) == 130
    assert "stopped without saving" in capsys.readouterr().err
    assert [p.name for p in ckpt.list_checkpoints(out)] == ["ckpt-000000100.pt"]
    assert json.loads((out / "summary.json").read_text())["status"] == "interrupted"


def test_checkpoints_without_replay_are_smaller_and_resume_with_an_empty_buffer(tmp_path):
    graph = small_dqn(tmp_path)
    for name, flag in (("with", "--checkpoint-replay"), ("without", "--no-checkpoint-replay")):
        assert main(["run", str(graph), "--steps", "300", flag, "--out",
                     str(tmp_path / name), *QUIET]) == 0
    with_replay = ckpt.latest(tmp_path / "with")
    without = ckpt.latest(tmp_path / "without")
    assert without.stat().st_size < with_replay.stat().st_size
    payload = ckpt.read(without)
    assert payload["without"] == ["replay"] and "replay" not in payload["state"]["nodes"]
    assert main(["resume", str(tmp_path / "without"), "--steps", "400", *QUIET]) == 0
    assert final_state(tmp_path / "without")["nodes"]["replay"]["size"] == 100


def test_writes_are_atomic_and_leave_no_temporary_files(tmp_path):
    target = tmp_path / "checkpoints" / "ckpt-000000001.pt"
    ckpt.save({"format": "x"}, target)
    before = target.read_bytes()

    class Boom:
        def __reduce__(self):
            raise RuntimeError("disk full")
    with pytest.raises(RuntimeError):
        ckpt.save({"format": "x", "bad": Boom()}, target)
    assert target.read_bytes() == before  # the old file is intact


# ---- safe and clear loading ----------------------------------------------------------
@pytest.fixture
def finished(tmp_path: Path) -> Path:
    out = tmp_path / "done"
    assert main(["run", str(small_dqn(tmp_path)), "--steps", "200", "--out", str(out),
                 *QUIET]) == 0
    return out


def test_a_truncated_checkpoint_is_a_clear_error(finished, capsys):
    path = ckpt.latest(finished)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    assert main(["resume", str(finished), "--steps", "300", *QUIET]) == 1
    err = capsys.readouterr().err
    assert f"{path}: error: not a readable checkpoint (truncated or corrupt?)" in err
    assert "Traceback" not in err


def test_a_file_that_is_not_a_checkpoint_is_a_clear_error(finished, capsys):
    path = ckpt.latest(finished)
    torch.save({"weights": torch.zeros(3)}, path)
    assert main(["eval", str(path), "--episodes", "1"]) == 1
    assert f"{path}: error: not an rlgraph checkpoint" in capsys.readouterr().err


def test_a_checkpoint_holding_arbitrary_objects_is_refused(finished, capsys):
    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))
    path = ckpt.latest(finished)
    torch.save({"format": ckpt.FORMAT, "payload": Evil()}, path)
    assert main(["resume", str(finished), "--steps", "300", *QUIET]) == 1
    captured = capsys.readouterr()
    assert "refusing to load" in captured.err and "pwned" not in captured.out


def test_a_checkpoint_of_another_graph_names_what_differs(finished, capsys):
    yaml_path = finished / "graph.yaml"
    text = yaml_path.read_text()
    yaml_path.write_text(text.replace("hidden: [16]", "hidden: [8]"))
    assert main(["resume", str(finished), "--steps", "300", *QUIET]) == 1
    err = capsys.readouterr().err
    assert "node 'qnet' (MLP) does not match this checkpoint" in err and "size mismatch" in err
    yaml_path.write_text(text.replace("type: DQNLoss", "type: DoubleDQNLoss"))
    assert main(["resume", str(finished), "--steps", "300", *QUIET]) == 1
    err = capsys.readouterr().err
    assert "node 'loss' is a DQNLoss in the checkpoint but a DoubleDQNLoss in the graph" in err


def test_a_checkpoint_of_another_format_version_says_to_start_anew(finished, capsys):
    path = ckpt.latest(finished)
    payload = torch.load(path, weights_only=True)
    ckpt.save({**payload, "version": 1}, path)
    assert main(["resume", str(finished), "--steps", "300", *QUIET]) == 1
    err = capsys.readouterr().err
    assert f"checkpoint format version 1; this rlgraph reads version {ckpt.VERSION}" in err
    assert "start the run anew" in err and "Traceback" not in err


def test_resume_of_a_folder_without_checkpoints_or_graph_is_a_clear_error(tmp_path, capsys):
    assert main(["resume", str(tmp_path), *QUIET]) == 1
    assert "no checkpoint in this run folder" in capsys.readouterr().err


def test_resume_of_a_run_whose_checkpoints_were_deleted_says_how_to_start_again(
        finished, capsys):
    shutil.rmtree(finished / "checkpoints")
    assert main(["resume", str(finished), *QUIET]) == 1
    err = capsys.readouterr().err
    assert "no checkpoint in this run folder" in err
    assert f"start again: rlgraph run {finished / 'graph.yaml'}" in err


def test_resume_past_the_end_asks_for_more_steps(finished, capsys):
    assert main(["resume", str(finished), *QUIET]) == 1
    assert "already at tick 200 of 200" in capsys.readouterr().err


def test_encoding_round_trips_the_values_node_states_hold():
    from collections import deque

    from rlgraph.core import ABSENT
    from rlgraph.nodes.data import Episodes
    value = {"a": np.arange(3.0), "s": np.float64(2.5), "d": deque([1, 2], maxlen=5),
             "t": (1, "x"), "absent": ABSENT, "ep": Episodes([1.0], [1], [0], 1),
             "tensor": torch.ones(2), "bytes": b"\x00"}
    buffer = io.BytesIO()
    torch.save(ckpt.encode(value), buffer)
    buffer.seek(0)
    back = ckpt.decode(torch.load(buffer, weights_only=True))
    assert back["d"] == value["d"] and back["d"].maxlen == 5
    assert back["absent"] is ABSENT and back["ep"] == value["ep"] and back["t"] == (1, "x")
    assert back["a"].dtype == np.float64 and np.array_equal(back["a"], value["a"])
    assert back["s"] == 2.5 and isinstance(back["s"], np.float64)
    with pytest.raises(ckpt.NotEncodable, match=r"state\['x'\]: a builtins.object"):
        ckpt.encode({"x": object()})
