"""A placed run's learner with its workers in the test's own process (InlinePool): the
bookkeeping of fragments, ticks, weights and failures, without Ray; and what crosses
between processes (fragments.py)."""

from __future__ import annotations

import dataclasses
import gc
import pickle
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from placement_nodes import saboteur
from workflow_nodes import small_dqn

from rlgraph.core import Graph, GraphErrors, build, load
from rlgraph.nodes.data import Episodes, Transition
from rlgraph.placement import heap, placed
from rlgraph.placement.fragments import (
    columns_of,
    load_module_state,
    module_state,
    outputs_by_tick,
    pack,
    unpack,
)
from rlgraph.placement.learner import raise_failure
from rlgraph.placement.pool import SOCKET_PATH_MAX, InlinePool, RayWorker, socket_folder
from rlgraph.placement.worker import Failure, Fragment, WorkerSetup
from rlgraph.workflow.runner import seed_globals

SYNC1 = ["placement.workers=1", "placement.mode=sync", "placement.fragment=1"]


def placed_graph(path: Path, overrides: list[str], ticks: int) -> Graph:
    checked = load(path, overrides=overrides)
    seed_globals(checked.spec.seed)
    return placed(build(checked), ticks, pool=InlinePool)


def train(path: Path, overrides: list[str], ticks: int, pieces: int | None = None
          ) -> dict[str, Any]:
    """Run `ticks` ticks (in runs of `pieces` ticks, as the runner's chunks do) and keep
    what a user would compare."""
    with placed_graph(path, overrides, ticks) as graph:
        while graph.tick < ticks:
            graph.run(min(pieces or ticks, ticks - graph.tick))
        replay = graph.nodes["replay"].memory  # type: ignore[attr-defined]
        return {"weights": {k: v.clone() for k, v in graph.value("qnet.module")
                            .state_dict().items()},
                "rows": list(graph.nodes["metrics"].rows),  # type: ignore[attr-defined]
                "replay": {k: v[:len(replay)].clone() for k, v in replay.storage.items()},
                "report": graph.report()}


def same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_sync_one_worker_with_one_tick_fragments_is_the_single_process_run(tmp_path):
    path = small_dqn(tmp_path)
    alone = train(path, [], 400)
    placed_run = train(path, SYNC1, 400)
    assert same_weights(alone["weights"], placed_run["weights"])
    assert alone["rows"] == placed_run["rows"] and len(alone["rows"]) > 10
    assert alone["replay"].keys() == placed_run["replay"].keys()
    assert all(torch.equal(alone["replay"][k], placed_run["replay"][k]) for k in alone["replay"])
    report = placed_run["report"]
    assert report["placement/fragments"] == 400 and report["placement/policy_lag_max"] == 0
    assert report["env/env_steps"] == alone["report"]["env/env_steps"] == 399


def test_sync_runs_are_a_function_of_the_seed_whatever_the_chunks(tmp_path):
    path = small_dqn(tmp_path)
    sync2 = ["placement.workers=2", "placement.mode=sync", "placement.fragment=16"]
    whole = train(path, sync2, 400)
    chunked = train(path, sync2, 400, pieces=7)  # chunks cut fragments in pieces
    assert same_weights(whole["weights"], chunked["weights"])
    assert whole["rows"] == chunked["rows"]
    # a worker counts env steps as if the workers took turns: each row's env steps is
    # its tick (CartPole: one env step per tick)
    assert [r["env_steps"] for r in whole["rows"]] == [r["tick"] for r in whole["rows"]]
    single = train(path, [], 400)  # two workers explore differently from one process
    assert not same_weights(single["weights"], whole["weights"])


def test_async_workers_feed_every_tick_once(tmp_path):
    path = small_dqn(tmp_path)
    run = train(path, ["placement.workers=3", "placement.fragment=16"], 500, pieces=50)
    report = run["report"]
    assert report["placement/workers"] == 3
    assert report["placement/fragments"] == -(-500 // 16)  # a short last fragment
    # each worker's env resets on its first tick and steps on every other one; each
    # worker's n-step node holds its last 2 steps back, at most, in its window
    assert report["env/env_steps"] == 500 - 3
    assert 500 - 3 - 3 * 2 <= len(run["replay"]["reward"]) < 500 - 3
    ticks = [r["tick"] for r in run["rows"]]
    assert ticks == sorted(ticks) and ticks[-1] < 500
    assert 0 <= report["placement/policy_lag"] <= report["placement/policy_lag_max"] <= 3 * 2
    assert 0 < report["placement/learner_busy"] <= 1


def test_each_worker_runs_with_its_own_param_values(tmp_path):
    path = small_dqn(tmp_path)
    run = train(path, ["placement.workers=2", "placement.fragment=16", "policy.decay_steps=50",
                       "placement.overrides={policy.end: [0.5, 0.1]}"], 200)
    assert run["report"]["policy/epsilon"] == pytest.approx(0.3)  # the mean over workers


def test_weights_are_published_after_every_n_update_bursts(tmp_path):
    path = small_dqn(tmp_path)
    with placed_graph(path, ["placement.workers=1", "placement.weights_every=2",
                             "placement.fragment=8"], 600) as graph:
        graph.run(600)
        bursts = graph.nodes["optim"].updates // graph.spec.nodes["sample"].triggers.repeat
        assert bursts >= 10
        assert graph.report()["placement/weights_version"] == bursts // 2


def test_a_node_exception_in_a_worker_is_raised_as_in_one_process(tmp_path):
    path = small_dqn(tmp_path, saboteur("FailAt", at=40))
    overrides = ["placement.workers=2", "placement.mode=sync", "placement.fragment=16",
                 "placement.actors=[env, policy, nstep, saboteur]"]
    with placed_graph(path, overrides, 200) as graph, pytest.raises(ValueError) as raised:
        graph.run(200)
    notes = "\n".join(raised.value.__notes__)
    assert "observations out of range at tick 40" in str(raised.value)
    assert "raised by node 'saboteur' (FailAt) at tick 40" in notes
    assert "in worker 0 of 2" in notes and "Traceback" in notes
    with load_and_build(path, []) as alone, pytest.raises(ValueError) as single:
        alone.run(200)
    assert "raised by node 'saboteur' (FailAt) at tick 40" in "\n".join(single.value.__notes__)


def load_and_build(path: Path, overrides: list[str]) -> Graph:
    return build(load(path, overrides=overrides))


def test_a_worker_that_cannot_build_its_nodes_is_a_located_error(tmp_path):
    path = small_dqn(tmp_path)
    overrides = ["placement.workers=2", "placement.fragment=16",
                 "placement.overrides={env.id: [CartPole-v1, Nope-v9]}"]
    with placed_graph(path, overrides, 100) as graph, pytest.raises(GraphErrors) as raised:
        graph.run(100)
    error = raised.value.errors[0]
    assert "cannot make gymnasium env 'Nope-v9'" in error.message
    assert error.message.endswith("(in worker 1 of 2)") and error.node == "env"
    assert error.loc is not None and error.loc.file == str(path)


def test_the_collector_leaves_a_placed_run_alone_until_it_closes(tmp_path):
    path = small_dqn(tmp_path)
    assert gc.get_freeze_count() == 0
    thresholds = gc.get_threshold()
    with placed_graph(path, ["placement.workers=1", "placement.fragment=8"], 40) as graph:
        graph.run(40)
        # the graph and every module imported: out of the collector's walks while it runs
        assert gc.get_freeze_count() > 10_000
        assert gc.get_threshold() == (heap.YOUNG_THRESHOLD, *thresholds[1:])
    # the process is left as it was found
    assert gc.get_freeze_count() == 0 and gc.get_threshold() == thresholds


# ---- what crosses between processes ----------------------------------------------------
def test_a_ray_worker_sends_fragments_pickled_and_a_value_that_cannot_travel_fails_it(
        tmp_path, monkeypatch):
    checked = load(small_dqn(tmp_path), overrides=["placement.workers=1"])
    thresholds = gc.get_threshold()
    worker = RayWorker(WorkerSetup(checked.spec, slot=0, seed=1))
    try:
        fragment = pickle.loads(worker.run_packed((0, 8, 0)))
        assert isinstance(fragment, Fragment)
        assert (fragment.start, fragment.ticks, fragment.version) == (0, 8, 0)
        # a reset, then a transition a tick (no rows while the 3-step window fills)
        assert fragment.columns["nstep"]["transition"].ticks == list(range(1, 8))
        unsendable = dataclasses.replace(fragment, reports={"env": {"hook": lambda: 0}})
        monkeypatch.setattr(worker, "run", lambda request, weights: unsendable)
        failure = pickle.loads(worker.run_packed((8, 8, 0)))
        assert isinstance(failure, Failure) and failure.slot == 0
        with pytest.raises((AttributeError, pickle.PicklingError), match="pickle") as raised:
            raise_failure(failure, 1)
        notes = "\n".join(raised.value.__notes__)
        assert "while sending the outputs of a fragment of 8 ticks from tick 8" in notes
        assert "in worker 0 of 1" in notes
        # the worker stays failed: every later request gets the same failure back
        monkeypatch.undo()
        assert pickle.loads(worker.run_packed((16, 8, 0))).text == failure.text
    finally:
        worker.close()
        heap.thaw(thresholds)  # a Ray worker's process is its own; this one is the test's


def transition(i: int, terminated: bool = False) -> Transition:
    return Transition(obs=torch.full((1, 4), float(i)), action=torch.tensor([i % 2]),
                      reward=torch.ones(1), next_obs=torch.full((1, 4), i + 1.0),
                      terminated=torch.tensor([terminated]), truncated=torch.tensor([False]),
                      steps=None)


def test_transitions_travel_as_one_stacked_tensor_per_field_and_come_back_equal():
    values = [transition(i, terminated=i == 2) for i in range(3)]
    packed = pack(values)
    assert packed.record is Transition and packed.fields["steps"] is None
    assert packed.fields["obs"].stacked.shape == (3, 1, 4)  # type: ignore[union-attr]
    back = unpack(packed)
    assert all(type(b) is Transition for b in back)
    for a, b in zip(values, back):
        assert a.fields().keys() == b.fields().keys()
        assert all(torch.equal(a.get(k), b.get(k)) for k in ("obs", "action", "terminated"))
        assert b.steps is None


def test_values_that_do_not_stack_travel_as_they_are():
    odd = [torch.zeros(2), torch.zeros(3)]
    episodes = [Episodes([1.0], [3], [0], 3)]
    assert pack(odd).items == odd and pack([0.5, 0.25]).items == [0.5, 0.25]
    assert unpack(pack(episodes)) == episodes
    mixed = [transition(0), transition(1).replace(value=torch.ones(1))]
    assert pack(mixed).items == mixed  # records with other fields


def test_a_fragment_gives_each_tick_what_was_emitted_on_it():
    rows = [(10, {"transition": transition(0)}),
            (12, {"transition": transition(1), "episode_end": Episodes([5.0], [5], [0], 5)})]
    columns = columns_of(rows, ["transition", "episode_end"], start=10)
    assert columns["transition"].ticks == [0, 2] and columns["episode_end"].ticks == [2]
    by_tick = outputs_by_tick(columns, 4)
    assert by_tick[1] is None and by_tick[3] is None
    assert by_tick[0] is not None and set(by_tick[0]) == {"transition"}
    assert by_tick[2] is not None and by_tick[2]["episode_end"].returns == [5.0]


def test_weights_travel_as_numpy_and_load_into_another_copy():
    torch.manual_seed(0)
    learner, worker = torch.nn.Linear(3, 2), torch.nn.Linear(3, 2)
    state = module_state(learner)
    before = learner.weight.detach().clone()
    assert all(isinstance(v, np.ndarray) for v in state.values())
    with torch.no_grad():
        learner.weight.add_(1.0)  # the learner trains on: the copy that travels does not
    for array in state.values():
        array.setflags(write=False)  # as read from Ray's object store
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_module_state(worker, state)
    assert torch.equal(worker.weight, before)
    assert torch.equal(worker.bias, learner.bias)


def test_worker_sockets_get_a_private_folder_with_a_short_path(tmp_path, monkeypatch):
    # a Unix socket's address holds ~104 bytes; a long $TMPDIR must not break placed runs
    deep = tmp_path / ("d" * 120)
    deep.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(deep))
    folder = socket_folder()
    try:
        assert folder.is_dir() and folder.stat().st_mode & 0o777 == 0o700
        assert len(str(folder / "worker-15-1000")) <= SOCKET_PATH_MAX
        assert not str(folder).startswith(str(deep))
    finally:
        folder.rmdir()
    short = Path(tempfile.mkdtemp(dir="/tmp"))
    monkeypatch.setattr(tempfile, "tempdir", str(short))
    try:
        near = socket_folder()  # a short temporary folder is used as it is
        assert near.parent == short
        near.rmdir()
    finally:
        short.rmdir()
