"""rlgraph.Agent: the Python API, on the same run folders, evaluation path and checkpoints
as the command line."""

from __future__ import annotations

import csv
import json
import re

import numpy as np
import pytest
import torch
from workflow_nodes import GRAPHS, small_dqn

import rlgraph
from rlgraph.cli import main
from rlgraph.core import GraphErrors
from rlgraph.workflow import checkpoint as ckpt

QUIET = {"quiet": True, "tensorboard": False}


def rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def weights(agent, ref="qnet.module"):
    return [p.detach().clone() for p in agent.graph.value(ref).parameters()]


def same(a, b):
    return len(a) == len(b) and all(torch.equal(x, y) for x, y in zip(a, b))


def test_learn_trains_in_a_run_folder_exactly_as_rlgraph_run_and_continues(tmp_path):
    graph = small_dqn(tmp_path)
    assert main(["run", str(graph), "--steps", "300", "--quiet", "--no-tensorboard",
                 "--out", str(tmp_path / "cli")]) == 0
    agent = rlgraph.Agent(graph, steps=300, run_dir=tmp_path / "api", **QUIET)
    assert agent.run_dir is None  # made by the first learn()
    assert agent.learn(200) is agent and agent.graph.tick == 200
    agent.learn()  # the rest, to the graph's steps: continues at tick 200
    run = tmp_path / "api"
    assert agent.run_dir == run and agent.graph.tick == 300
    assert rows(run / "metrics.csv") == rows(tmp_path / "cli" / "metrics.csv")
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "finished" and summary["ticks"] == 300
    assert summary["resumed_from_tick"] == 200
    assert (run / "graph.yaml").is_file() and ckpt.list_checkpoints(run)[-1].name == \
        "ckpt-000000300.pt"
    cli = rlgraph.Agent.load(tmp_path / "cli", quiet=True)
    assert same(weights(agent), weights(cli))
    with pytest.raises(GraphErrors, match="nothing to learn: the agent is at tick 300"):
        agent.learn()


def test_predict_acts_through_the_acting_path_preprocessing_included(tmp_path):
    from test_workflow_eval import shifted_dqn
    agent = rlgraph.Agent(shifted_dqn(tmp_path), **QUIET)
    qnet = agent.graph.value("qnet.module")
    obs = np.random.default_rng(0).normal(size=(64, 4)).astype(np.float32)
    with torch.no_grad():  # the policy's network on observations + 0.5 (the shift node)
        expected = qnet(torch.as_tensor(obs) + 0.5).argmax(dim=1).numpy()
        unshifted = qnet(torch.as_tensor(obs)).argmax(dim=1).numpy()
    assert (expected != unshifted).any()  # so the shift shows in the actions
    assert (agent.predict(obs) == expected).all()
    single = agent.predict(obs[1].tolist())  # one observation -> one action
    assert np.shape(single) == () and single == expected[1]
    assert agent.graph.nodes["shift"].calls == 0  # act(), never step(): nothing changed
    with pytest.raises(ValueError, match=r"shape \(3,\); env 'CartPole-v1' has "
                                         r"observations of shape \(4,\)"):
        agent.predict([0.0, 0.0, 0.0])
    with pytest.raises(ValueError, match=r"deterministic=False\) is not supported"):
        agent.predict(obs, deterministic=False)


def test_save_and_load_round_trip_exactly_and_the_cli_reads_the_folder(tmp_path, capsys):
    agent = rlgraph.Agent(small_dqn(tmp_path), run_dir=tmp_path / "run", **QUIET)
    agent.learn(200)
    saved = tmp_path / "saved"
    assert agent.save(saved) == ckpt.checkpoint_path(saved, 200)
    loaded = rlgraph.Agent.load(saved, **QUIET)
    assert loaded.graph.tick == 200 and same(weights(agent), weights(loaded))
    score = agent.evaluate(episodes=3)
    mean, std, returns = score
    assert loaded.evaluate(episodes=3) == score and len(returns) == 3
    assert mean == pytest.approx(np.mean(returns)) and std == pytest.approx(np.std(returns))
    assert main(["eval", str(saved), "--episodes", "3"]) == 0  # the CLI reads a save
    printed = re.search(r"returns: (.*)", capsys.readouterr().out).group(1)
    assert [float(r) for r in printed.split()] == returns
    # both continue identically: replay, optimizer, RNGs and envs were all saved
    agent.learn(100)
    loaded.learn(100)
    assert loaded.run_dir == saved
    assert rows(saved / "metrics.csv") == rows(tmp_path / "run" / "metrics.csv")
    assert same(weights(agent), weights(loaded))
    # saving again replaces an earlier save; a run folder or other files are refused
    again = tmp_path / "again"
    agent.save(again)
    agent.learn(10)
    agent.save(again)
    assert [p.name for p in ckpt.list_checkpoints(again)] == ["ckpt-000000310.pt"]
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    for taken in (tmp_path / "other", saved):  # saved is loaded's run folder now
        with pytest.raises(GraphErrors, match=r"not empty and not an earlier Agent\.save"):
            agent.save(taken)
    # into its own run folder: a checkpoint of now, beside the run's own files
    assert agent.save(tmp_path / "run") == ckpt.checkpoint_path(tmp_path / "run", 310)
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["status"] == "finished"
    # a run folder that is taken is refused before anything is built
    with pytest.raises(GraphErrors, match="already exists and is not empty"):
        rlgraph.Agent(small_dqn(tmp_path), run_dir=tmp_path / "other")


def test_a_broken_graph_raises_the_errors_rlgraph_validate_prints(tmp_path, capsys):
    from support import FIXTURES
    broken = FIXTURES / "cli" / "broken.yaml"
    assert main(["validate", str(broken)]) == 1
    printed = [line for line in capsys.readouterr().err.splitlines() if "error" in line
               and "errors" not in line]
    with pytest.raises(GraphErrors) as caught:
        rlgraph.Agent(broken)
    assert printed and all(line in str(caught.value) for line in printed)
    with pytest.raises(GraphErrors, match=r"(?s)--set loss.gama=0.9.*did you mean 'gamma'"):
        rlgraph.Agent(small_dqn(tmp_path), overrides={"loss.gama": 0.9})


def test_overrides_take_a_mapping_of_yaml_values(tmp_path):
    agent = rlgraph.Agent(small_dqn(tmp_path), overrides={
        "loss.gamma": 0.98, "qnet.hidden": [8, 8], "optim.lr": {"linear": [1e-3, 0.0]}})
    assert agent.graph.nodes["loss"].gamma == 0.98
    assert agent.graph.nodes["qnet"].hidden == [8, 8]


def test_python_runs_on_one_torch_thread_unless_told(tmp_path):
    graph = small_dqn(tmp_path)
    torch.set_num_threads(2)
    rlgraph.Agent(graph)
    assert torch.get_num_threads() == 1
    rlgraph.Agent(graph, threads=2)
    assert torch.get_num_threads() == 2


def test_diagrams_show_inline_in_jupyter_and_save(tmp_path):
    diagram = rlgraph.render(GRAPHS / "dqn_target.yaml")
    svg = diagram._repr_svg_()
    assert svg.lstrip().startswith("<?xml") and "EpsilonGreedy" in svg
    assert diagram.save(tmp_path / "a.png").read_bytes()[:4] == b"\x89PNG"
    assert "dqn_target" in repr(diagram) and diagram.errors == []
    agent = rlgraph.Agent(small_dqn(tmp_path), **QUIET)
    assert "hidden [16]" in agent.render()._repr_svg_()  # this agent's own params
    from support import FIXTURES
    with pytest.warns(UserWarning) as warned:  # drawn in red, each error also warned
        broken = rlgraph.render(FIXTURES / "cli" / "broken.yaml")
    assert any("no output 'cont'" in str(w.message) for w in warned)
    assert len(warned) == len(broken.errors) == 2 and "<svg" in broken._repr_svg_()


def test_learn_with_profile_times_every_node(tmp_path):
    agent = rlgraph.Agent(small_dqn(tmp_path), run_dir=tmp_path / "run", **QUIET)
    agent.learn(150, profile=True)
    nodes = agent.profile["nodes"]
    assert nodes["env"]["calls"] == 150 and nodes["policy"]["calls"] == 150
    updates = agent.graph.nodes["optim"].report()["updates"]
    assert updates > 0 and nodes["sample"]["calls"] == nodes["optim"]["calls"] == updates
    assert sum(n["share"] for n in nodes.values()) + agent.profile["other_share"] == \
        pytest.approx(1.0, abs=1e-3)
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["profile"]["nodes"]["env"]["calls"] == 150
