"""Damaged checkpoints are errors that name the file, never tracebacks, under both
`rlgraph eval` and `rlgraph resume`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from workflow_nodes import small_dqn

from rlgraph.cli import main
from rlgraph.workflow import checkpoint as ckpt

QUIET = ["--quiet", "--no-tensorboard"]


def _set(*path: str | int, value: object) -> Callable[[dict], None]:
    def damage(payload: dict) -> None:
        target = payload
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    return damage


def _drop(*path: str) -> Callable[[dict], None]:
    def damage(payload: dict) -> None:
        target = payload
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]
    return damage


ENV = ("state", "nodes", "env")
DAMAGES: dict[str, tuple[Callable[[dict], None], str]] = {
    "no types": (_drop("types"), "damaged checkpoint: the node types are missing"),
    "no state": (_drop("state"), "damaged checkpoint: the graph state is missing"),
    "no rng": (_drop("rng"), "damaged checkpoint: the process-wide random generators are "
                             "missing"),
    "tick abc": (_set("tick", value="abc"), "damaged checkpoint: the tick is 'abc', not a "
                                            "count of ticks"),
    "negative tick": (_set("tick", value=-5), "the tick is -5"),
    "wall_s abc": (_set("extra", "wall_s", value="abc"), "damaged checkpoint: the wall time "
                                                         "is 'abc', not a number of seconds"),
    "graph tick abc": (_set("state", "tick", value="abc"), "the graph state is at tick 'abc'"),
    "eval_s abc": (_set("extra", "eval_s", value="abc"), "damaged checkpoint: the time spent "
                                                         "evaluating is 'abc', not a number"),
    "evaluation rows": (_set("extra", "evaluation", "rows", value="x"),
                        "damaged checkpoint: the run's evaluations are missing or malformed"),
    "evaluation schedule": (_drop("extra", "evaluation", "every"),
                            "damaged checkpoint: the run's evaluation schedule is missing"),
    "trigger counts": (_set("state", "trigger_counts", value={"sample": "x"}),
                       "damaged checkpoint: graph state: the trigger counters are not counts"),
    "delay lines": (_set("state", "delay_lines", value=[]),
                    "graph state: the values in flight on delayed wires do not fit"),
    "negative replay position": (_set("state", "nodes", "replay", "pos", value=-1),
                                 "node 'replay' (ReplayBuffer) does not match this checkpoint: "
                                 "a replay position -1 and size 197 that a buffer of capacity "
                                 "2000 cannot have"),  # 199 env steps, 2 in the n-step window
    "replay size past capacity": (_set("state", "nodes", "replay", "size", value=10**6),
                                  "size 1000000 that a buffer of capacity 2000 cannot have"),
    "replay rows missing": (_set("state", "nodes", "replay", "storage", "obs",
                                 value=torch.zeros(3, 4)),
                            "replay storage that does not hold 197 rows per field"),
    "n-step slot": (_set("state", "nodes", "nstep", "newest", value=7),
                    "node 'nstep' (NStep) does not match this checkpoint: 'newest' is 7, not "
                    "a slot of 3"),
    "epsilon abc": (_set("state", "nodes", "policy", "epsilon", value="abc"),
                    "node 'policy' (EpsilonGreedy) does not match this checkpoint: 'epsilon' "
                    "is 'abc', not a number in [0.0, 1.0]"),
    "optimizer updates": (_set("state", "nodes", "optim", "updates", value=-3),
                          "'updates' is -3, not a count"),
    "metrics rows": (_set("state", "nodes", "metrics", "rows", value=[{"tick": "x"}]),
                     "'rows' is [{'tick': 'x'}], not a list of rows"),
    "weights missing": (_drop("state", "nodes", "qnet", "module"),
                        "node 'qnet' (MLP) does not match this checkpoint: 'module' is missing"),
    "env count": (_set(*ENV, "envs", value=[]), "the checkpoint holds 0 envs, the graph has "
                                                "num_envs: 1"),
    "env obs shape": (_set(*ENV, "obs", value=torch.zeros(2, 9)),
                      "saved observations are not float32 of shape (1, 4)"),
    "env physics": (_set(*ENV, "envs", 0, "state", "state",
                         value={"__rlgraph__": "ndarray", "data": torch.zeros(7)}),
                    "state: expected 4 numbers, got an array of shape (7,)"),
    "env generator": (_set(*ENV, "envs", 0, "rng", "bit_generator", value="Evil"),
                      "a random generator's state is damaged (bit generator 'Evil')"),
    "env class": (_set(*ENV, "envs", 0, "class", value="os:system"),
                  "the checkpoint holds gymnasium.wrappers.common:TimeLimit < "
                  "gymnasium.wrappers.common:OrderEnforcing < "
                  "gymnasium.wrappers.common:PassiveEnvChecker < os:system"),
    "env steps": (_set(*ENV, "env_steps", value="abc"), "saved step or episode count 'abc'"),
    "unknown tag": (_set("state", "nodes", "metrics", value={"__rlgraph__": "evil"}),
                    "damaged checkpoint: unknown encoded value 'evil'"),
    "record of a class not loaded": (
        _set("state", "delay_lines", 0, value=[{"__rlgraph__": "record",
                                                "type": "nosuchmod:Evil", "fields": {}}]),
        "damaged checkpoint: 'nosuchmod:Evil' is not a loaded SimpleNamespace class"),
    "python rng": (_set("rng", "python", value=(3, (1, 2), None)),
                   "damaged checkpoint: the process-wide random generators:"),
}


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("damaged")
    out = tmp / "run"
    assert main(["run", str(small_dqn(tmp)), "--steps", "200", "--out", str(out),
                 *QUIET]) == 0
    return out


@pytest.mark.parametrize("case", list(DAMAGES))
def test_a_damaged_checkpoint_is_an_error_naming_the_file(finished, case, capsys):
    path = ckpt.latest(finished)
    original = path.read_bytes()
    damage, expected = DAMAGES[case]
    payload = torch.load(path, weights_only=True)
    damage(payload)
    ckpt.save(payload, path)
    try:
        for command in (["eval", str(finished), "--episodes", "1"],
                        ["resume", str(finished), "--steps", "220", *QUIET]):
            assert main(command) == 1, command
            err = capsys.readouterr().err
            assert err.startswith(f"{path}: error: "), err
            assert expected in err and "Traceback" not in err, err
    finally:
        path.write_bytes(original)
