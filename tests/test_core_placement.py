"""`placement:`: read, checked and cut at load, without starting anything."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from support import line_of
from workflow_nodes import small_dqn

from rlgraph.core import GraphError, load, parse_graph
from rlgraph.core.build import check_file
from rlgraph.core.dump import dump_spec
from rlgraph.core.placement import find_cut
from rlgraph.render import to_dot

ROOT = Path(__file__).resolve().parent.parent
GRAPHS = ROOT / "graphs"
DQN = GRAPHS / "dqn_target.yaml"


def problems(overrides: list[str], path: Path = DQN) -> list[GraphError]:
    checked, errors = check_file(path, overrides=overrides)
    assert checked is not None
    return errors


def one(errors: list[GraphError], *words: str) -> GraphError:
    found = [e for e in errors if all(w in e.format() for w in words)]
    assert len(found) == 1, [e.format() for e in errors]
    return found[0]


def test_the_cut_is_derived_from_the_wiring() -> None:
    checked = load(DQN, overrides=["placement.workers=4"])
    cut = find_cut(checked.spec, checked.classes)
    # the n-step windows are per env row: they go with the env to every worker
    assert cut.actors == ["env", "policy", "nstep"]
    assert cut.built == ["env", "qnet", "policy", "nstep"]  # a worker builds the network
    assert cut.channels == {"env": ["episode_end"], "nstep": ["transition"]}  # it acts with
    assert [str(w) for w in cut.weights] == ["qnet.module"]
    assert cut.writers == {("qnet", "module"): ["optim"]}
    assert sorted((e.describe(), kind) for e, kind in cut.crossings) == [
        ("env.episode_end -> metrics.episode", "fragments"),
        ("nstep.transition -> replay.transition", "fragments"),
        ("qnet.module -> policy.q", "weights")]


def test_a_node_with_windows_per_env_left_on_the_learner_is_a_located_error() -> None:
    # listed without nstep, the learner would fold steps of different workers into one
    # window at every change of fragment
    error = one(problems(["placement.workers=2", "placement.actors=[env, policy]"]),
                "'nstep' (NStep) keeps state per env row, but runs on the learner")
    assert error.loc.line == line_of(DQN, "in: {transition: env.transition}")
    assert "add 'nstep' to placement.actors" in error.hint
    assert not problems(["placement.workers=2", "placement.actors=[env, policy, nstep]"])


def test_a_node_with_windows_per_env_fed_through_the_learner_is_a_located_error(
        tmp_path: Path) -> None:
    # env -> scale (on the learner) -> nstep: no wire of nstep's crosses, yet its windows
    # would still see the workers' fragments in turns
    path = tmp_path / "through.yaml"
    path.write_text(DQN.read_text().replace(
        "    in: {transition: env.transition}   # episode end)",
        "    in: {transition: scale.transition}   # episode end)").replace(
        "  nstep:\n", "  scale:\n    type: NormalizeReward\n"
                      "    in: {transition: env.transition}\n\n  nstep:\n"))
    error = one(problems(["placement.workers=2"], path),
                "'nstep' (NStep) keeps state per env row, but runs on the learner")
    assert error.loc.line == line_of(path, "in: {transition: scale.transition}")
    assert "run 'nstep' and the learner nodes that feed it (scale) beside the env" in error.hint
    assert not problems(["placement.workers=2", "placement.actors=[env, policy, scale, nstep]"],
                        path)


def test_without_actors_each_env_and_its_acting_path_are_replicated(tmp_path: Path) -> None:
    path = small_dqn(tmp_path, "\n  shift:\n    type: workflow_nodes:ShiftObs\n"
                               "    in: {obs: env.obs}\n")
    path.write_text(path.read_text().replace("obs: env.obs, q: qnet.module",
                                             "obs: shift.obs, q: qnet.module"))
    checked = load(path, overrides=["placement.workers=2"])
    cut = find_cut(checked.spec, checked.classes)
    assert cut.actors == ["env", "policy", "nstep", "shift"]  # the preprocessing goes along
    # listed without it, the preprocessing would feed the actors from the learner
    errors = problems(["placement.workers=2", "placement.actors=[env, policy]"], path)
    assert "add 'shift' to placement.actors" in one(errors, "shift.obs -> policy.obs").hint


def test_a_section_with_no_workers_is_not_cut() -> None:
    # one process whatever the section lists; the cut is checked once it has workers
    assert not problems(["placement.actors=[policy]"])
    assert problems(["placement.actors=[policy]", "placement.workers=1"])


def test_the_section_is_read_with_defaults_and_overridden_with_set() -> None:
    checked = load(DQN)
    p = checked.spec.placement
    assert p is not None
    assert (p.workers, p.actors, p.fragment, p.mode, p.weights_every, p.restarts) == (
        0, None, 128, "async", 1, 3)
    checked = load(DQN, overrides=["placement.workers=4", "placement.mode=sync",
                                   "placement.fragment=1",
                                   "placement.overrides={policy.end: [0.4, 0.1, 0.03, 0.01]}"])
    p = checked.spec.placement
    assert p is not None
    assert (p.workers, p.mode, p.fragment) == (4, "sync", 1)
    assert p.params_of(2) == {"policy": {"end": 0.03}}
    # the run folder's graph.yaml keeps it, and reads back the same
    again, errors = parse_graph(dump_spec(checked.spec), "graph.yaml")
    assert not errors and again is not None and again.placement is not None
    assert (again.placement.workers, again.placement.mode,
            again.placement.overrides[0].values) == (4, "sync", [0.4, 0.1, 0.03, 0.01])


def test_set_makes_a_section_for_a_graph_without_one() -> None:
    checked = load(GRAPHS / "dqn.yaml", overrides=["placement.workers=2"])
    assert checked.spec.placement is not None and checked.spec.placement.workers == 2
    assert find_cut(checked.spec, checked.classes).actors == ["env", "policy", "nstep"]


def test_shape_mistakes_are_located_in_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(DQN.read_text().replace("  mode: async ", "  mode: fastest ").replace(
        "  fragment: 128 ", "  fragment: 0   ").replace("  workers: 0 ", "  wrokers: 2 "))
    errors = problems([], path)
    assert one(errors, "'mode' must be async or sync, got string 'fastest'").loc.line == \
        line_of(path, "mode: fastest")
    assert one(errors, "'fragment' must be an integer >= 1").loc.line == \
        line_of(path, "fragment: 0")
    assert "did you mean 'workers'" in one(errors, "unknown key 'wrokers'").format()


def test_a_bad_set_is_located_at_the_override() -> None:
    error = one(problems(["placement.workers=-1"]), "'workers' must be an integer >= 0")
    assert str(error.loc) == "--set placement.workers=-1"


def test_a_misspelled_actor_is_named_with_a_suggestion() -> None:
    error = one(problems(["placement.workers=2", "placement.actors=[env, polcy]"]),
                "'actors' names 'polcy'")
    assert "did you mean 'policy'" in error.format()


def test_a_buffer_wire_across_the_cut_is_an_error_at_the_wire() -> None:
    errors = problems(["placement.workers=2", "placement.actors=[env, policy, replay]"])
    error = one(errors, "hands a replay buffer across the cut")
    assert (error.node, error.port, error.loc.line) == ("sample", "buffer",
                                                        line_of(DQN, "in: {buffer: replay"))
    assert "list both in placement.actors or neither" in error.hint


def test_a_stream_wire_from_the_learner_into_the_actors_is_an_error_at_the_wire() -> None:
    error = one(problems(["placement.workers=2", "placement.actors=[policy]"]),
                "env.obs -> policy.obs", "round trip between processes every tick")
    assert (error.node, error.port, error.loc.line) == ("policy", "obs",
                                                        line_of(DQN, "in: {obs: env.obs"))
    assert "add 'env' to placement.actors" in error.hint
    delayed = one(problems(["placement.workers=2", "placement.actors=[env]"]),
                  "policy.action -> env.action", "even delayed")
    assert "add 'policy' to placement.actors" in delayed.hint


def test_an_actor_that_trains_or_owns_a_trained_network_is_an_error() -> None:
    errors = problems(["placement.workers=2", "placement.actors=[env, policy, qnet]"])
    error = one(errors, "is an actor, but 'optim' on the learner changes its network")
    assert error.node == "qnet" and error.loc.line == line_of(DQN, "qnet:")


def test_repeat_on_an_actor_is_an_error() -> None:
    error = one(problems(["placement.workers=2", "policy.repeat=2"]), "'repeat' on an actor")
    assert error.node == "policy" and str(error.loc) == "--set policy.repeat=2"


@pytest.mark.parametrize(("value", "words"), [
    ("{policy.end: [0.1]}", ["gives 1 value for 2 workers"]),
    ("{policy.end: [0.1, 2.0]}", ["worker 1's value", "must be in [0.0, 1.0], got 2.0"]),
    ("{policy.ned: [0.1, 0.2]}", ["no param 'ned'", "did you mean 'end'"]),
    ("{loss.gamma: [0.9, 0.99]}", ["'loss' is not an actor"]),
    ("{policy: [1, 2]}", ["must be node.param"]),
])
def test_per_worker_values_are_checked_like_params(value: str, words: list[str]) -> None:
    one(problems(["placement.workers=2", f"placement.overrides={value}"]), *words)


def test_a_placed_run_warns_when_actors_are_ordered_after_an_update(tmp_path: Path) -> None:
    path = tmp_path / "after.yaml"
    path.write_text(DQN.read_text().replace(
        "order: {before: [sample]}  # acts before", "order: {after: [optim]}  # acts after"))
    checked, errors = check_file(path, overrides=["placement.workers=2"])
    assert not errors and checked is not None
    warning = one(checked.warnings, "acts with the weights the learner last published")
    assert warning.node == "policy" and "order: {before: [optim]}" in warning.hint
    single, _ = check_file(path)  # in one process the order holds: nothing to say
    assert single is not None and not [w for w in single.warnings if "placed" in w.message]


def test_placement_belongs_to_the_top_level_graph(tmp_path: Path) -> None:
    (tmp_path / "inner.yaml").write_text(DQN.read_text())
    (tmp_path / "outer.yaml").write_text("nodes:\n  agent: {type: inner.yaml}\n")
    errors = problems([], tmp_path / "outer.yaml")
    error = one(errors, "subgraph 'inner.yaml' has a 'placement:' section")
    assert error.loc.file.endswith("inner.yaml")


def test_a_placed_graph_still_gets_every_ordinary_check() -> None:
    errors = problems(["placement.workers=2", "loss.gama=0.9"])
    one(errors, "no param 'gama'")


def test_the_diagram_draws_the_actor_group_and_the_channels() -> None:
    checked = load(DQN, overrides=["placement.workers=4", "placement.fragment=64"])
    source = to_dot(checked)
    body = source[source.index('subgraph "cluster_/actors"'):]
    body = body[:body.index("\n\t}")]
    assert "actors × 4 workers" in body and "fragments of 64 ticks, async" in body
    assert re.search(r"^\t+env \[label=", body, re.M)
    assert re.search(r"^\t+policy \[label=", body, re.M)
    assert "replay [label=" not in body  # the learner's nodes stay outside
    channels = {m[1]: m[2] for m in re.finditer(
        r"^\t+(\S+) -> \S+ \[label=(fragments|weights) .*$", source, re.M)}
    assert channels == {"nstep:out_transition:e": "fragments",
                        "env:out_episode_end:e": "fragments", "qnet:out_module:e": "weights"}
    assert "channel: crosses between the learner and the workers" in source  # the legend
    assert "cluster_/actors" not in to_dot(load(DQN))  # one process: drawn as before


def test_validate_checks_a_placed_graph_without_importing_ray() -> None:
    code = ("import sys; from rlgraph.cli import main; "
            f"code = main(['validate', {str(DQN)!r}, '--set', 'placement.workers=8']); "
            "print(code, 'ray' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.stdout.split()[-2:] == ["0", "False"], done.stderr
