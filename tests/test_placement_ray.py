"""Placed runs on Ray: `rlgraph run` with `placement.workers`, its run folder, a dead
worker, a failing node, and a cluster that listens on the loopback interface only.

One local cluster serves every test (the session's `ray_cluster` fixture); each run
starts its own worker processes and stops them when it ends."""

from __future__ import annotations

import csv
import json
import os
import tempfile
import time
from pathlib import Path

import pytest
import torch
from placement_nodes import saboteur
from support import descendants
from workflow_nodes import small_dqn

from rlgraph.cli import main
from rlgraph.core import load
from rlgraph.placement.pool import RayPool, RayWorker, WorkerDied
from rlgraph.placement.worker import Request, WorkerSetup
from rlgraph.workflow import checkpoint as ckpt

pytestmark = pytest.mark.usefixtures("ray_cluster")

SYNC1 = ["placement.workers=1", "placement.mode=sync", "placement.fragment=1"]


def run(path: Path, out: Path, overrides: list[str], steps: int, *extra: str) -> int:
    args = ["run", str(path), "--steps", str(steps), "--out", str(out), "--quiet"]
    for override in overrides:
        args += ["--set", override]
    return main([*args, *extra])


def rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def summary(out: Path) -> dict:
    return json.loads((out / "summary.json").read_text())


def qnet_weights(out: Path) -> dict[str, torch.Tensor]:
    payload = ckpt.read(ckpt.latest(out))
    return payload["state"]["nodes"]["qnet"]["module"]


def workers_alive(wait_s: float = 10.0) -> list[str]:
    """The run's worker processes still alive once `wait_s` passed (ray.kill is
    asynchronous: a killed worker takes a moment to exit)."""
    deadline = time.monotonic() + wait_s
    while True:
        alive = [cmd for cmd in descendants().values()
                 if cmd.startswith(f"ray::{RayWorker.__name__}")]
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.2)


def channel_folders() -> set[Path]:
    """The placed runs' socket folders in the temporary folder (and /tmp, where a long
    temporary folder sends them)."""
    return {*Path(tempfile.gettempdir()).glob("rlgraph-channels-*"),
            *Path("/tmp").glob("rlgraph-channels-*")}


def test_ray_listens_on_the_loopback_interface_only():
    import ray
    assert ray.util.get_node_ip_address() == "127.0.0.1"
    ours = set(descendants())
    inodes = set()
    for pid in ours:
        fds = Path(f"/proc/{pid}/fd")
        try:
            for fd in fds.iterdir():
                target = str(fd.readlink())
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
        except OSError:
            continue
    listening = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:  # LISTEN, one of ours
                listening.append(fields[1].rpartition(":")[0])
    assert listening, "Ray's processes listen somewhere"
    loopback = {"0100007F", "0000000000000000FFFF00000100007F",
                "00000000000000000000000001000000"}  # 127.0.0.1 (v4, v4-mapped), ::1
    assert set(listening) <= loopback, listening


def test_one_worker_in_sync_mode_with_one_tick_fragments_is_the_single_process_run(tmp_path):
    path = small_dqn(tmp_path)
    assert run(path, tmp_path / "alone", [], 300) == 0
    assert run(path, tmp_path / "placed", SYNC1, 300) == 0
    alone, placed = tmp_path / "alone", tmp_path / "placed"
    assert rows(alone / "metrics.csv") == rows(placed / "metrics.csv")
    a, b = qnet_weights(alone), qnet_weights(placed)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    report = summary(placed)["report"]
    assert report["placement/fragments"] == 300 and report["placement/policy_lag_max"] == 0
    assert not workers_alive()


def test_a_placed_run_folder_holds_rows_events_checkpoints_and_evaluates(tmp_path, capsys):
    path, out = small_dqn(tmp_path), tmp_path / "run"
    placement = ["placement.workers=2", "placement.fragment=32"]
    assert run(path, out, placement, 600, "--checkpoint-every", "300") == 0
    done = summary(out)
    assert done["status"] == "finished" and done["ticks"] == 600
    report = done["report"]
    assert report["placement/workers"] == 2 and report["placement/restarts"] == 0
    assert report["env/env_steps"] == done["env_steps"] == 600 - 2  # a reset per worker
    assert report["placement/weights_version"] > 0 and report["placement/fragments"] > 0
    episodes = rows(out / "metrics.csv")
    assert len(episodes) > 10 and [int(r["episode"]) for r in episodes] == list(
        range(1, len(episodes) + 1))
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    events = EventAccumulator(str(out / "tb"))
    events.Reload()
    assert {"placement/policy_lag", "placement/learner_busy", "env/steps_per_s",
            "metrics/return"} <= set(events.Tags()["scalars"])
    assert [p.name for p in ckpt.list_checkpoints(out)] == ["ckpt-000000300.pt",
                                                             "ckpt-000000600.pt"]
    capsys.readouterr()
    assert main(["eval", str(out), "--episodes", "3"]) == 0  # no Ray: the learner's copy
    assert "3 greedy episodes of CartPole-v1" in capsys.readouterr().out
    assert main(["resume", str(out), "--steps", "700", "--quiet"]) == 0
    assert summary(out)["ticks"] == 700 and summary(out)["resumed_from_tick"] == 600
    assert not workers_alive()


def sabotaged(tmp_path: Path, kind: str, restarts: int, steps: int, **params) -> int:
    """A two-worker run (in tmp_path/run) whose workers also run a saboteur node."""
    path = small_dqn(tmp_path, saboteur(kind, **params))
    placement = ["placement.workers=2", "placement.fragment=32", f"placement.restarts={restarts}",
                 "placement.actors=[env, policy, nstep, saboteur]"]
    return run(path, tmp_path / "run", placement, steps)


def test_a_killed_worker_is_replaced_and_the_run_goes_on(tmp_path):
    marker, folders = tmp_path / "killed", channel_folders()
    assert sabotaged(tmp_path, "KillAt", 1, 400, at=150, marker=str(marker)) == 0
    assert marker.exists()  # it did die
    done = summary(tmp_path / "run")
    assert done["status"] == "finished" and done["ticks"] == 400
    assert done["report"]["placement/restarts"] == 1
    # the lost fragment was asked again: every tick was learned from once
    steps = done["report"]["env/env_steps"]
    assert steps == 400 - 3  # a reset per worker, and the new one
    # each of the 3 workers' n-step windows held back its last 2 steps at most
    assert steps - 3 * 2 <= done["report"]["replay/size"] < steps
    assert not workers_alive()
    assert channel_folders() <= folders  # the killed worker's socket went with the run's


def test_past_its_restarts_a_dead_worker_fails_the_run_clearly(tmp_path, capsys):
    marker = tmp_path / "killed"
    assert sabotaged(tmp_path, "KillAt", 0, 300, at=50, marker=str(marker)) == 1
    err = capsys.readouterr().err
    assert "error: worker 1 died" in err and "already replaced 0 dead workers, its limit" in err
    assert "raise placement.restarts" in err and "RayActorError" not in err
    done = summary(tmp_path / "run")
    assert done["status"] == "failed" and "worker 1 died" in done["failure"]["error"]
    assert not workers_alive()


def test_a_node_exception_in_a_worker_fails_the_run_at_once_located(tmp_path, capsys):
    # a custom node's bug is an internal error (exit 3), its traceback and notes printed
    assert sabotaged(tmp_path, "FailAt", 3, 300, at=70) == 3
    err = capsys.readouterr().err
    assert "ValueError: observations out of range at tick 70" in err
    assert "raised by node 'saboteur' (FailAt) at tick 70" in err
    assert "in worker 0 of 2" in err and "RayActorError" not in err
    done = summary(tmp_path / "run")
    assert done["status"] == "failed" and done["report"]["placement/restarts"] == 0
    assert "observations out of range" in done["failure"]["error"]
    assert done["ticks"] < 300  # it stopped when the failure came, not at the end
    assert not workers_alive()


def test_workers_run_at_the_learners_priority(tmp_path):
    # Ray lowers its workers to nice 15: beside any busy process they would starve
    checked = load(small_dqn(tmp_path), overrides=["placement.workers=1"])
    folders = channel_folders()
    pool = RayPool()
    try:
        pool.start(WorkerSetup(checked.spec, slot=0, seed=1))
        worker = pool.pid(0)
        assert os.getpriority(os.PRIO_PROCESS, worker) == os.getpriority(os.PRIO_PROCESS, 0)
    finally:
        pool.close()
    assert not workers_alive() and channel_folders() <= folders


def test_a_worker_that_cannot_open_its_socket_is_a_dead_worker_not_a_traceback(tmp_path):
    checked = load(small_dqn(tmp_path), overrides=["placement.workers=1"])
    pool = RayPool()
    pool.folder.rmdir()
    pool.folder = tmp_path / "gone"  # no such folder: the worker's listen fails
    try:
        pool.start(WorkerSetup(checked.spec, slot=0, seed=1))
        handle = pool.submit(0, Request(0, 4, 0), None)
        assert pool.ready([handle], 1.0) == [0]
        with pytest.raises(WorkerDied, match=r"could not open its socket .*FileNotFoundError"):
            pool.result(handle)
    finally:
        pool.close()
    assert not workers_alive()
