"""No silent no-ops, no misleading output: what a new user ran into, each now said out
loud (issue 17)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from support import line_of
from workflow_nodes import GRAPHS, small_dqn

from rlgraph.cli import main
from rlgraph.core import check_file

REPO = GRAPHS.parent


def warnings_of(path, overrides=()):
    checked, errors = check_file(path, overrides=overrides)
    assert not errors
    return [w.format() for w in checked.warnings]


def without(text: str, node: str) -> str:
    """A graph file's text without one node's block (blocks are two-space indented)."""
    out, skipping = [], False
    for line in text.splitlines(keepends=True):
        if line.startswith("  ") and not line.startswith("   "):
            skipping = line.strip() == f"{node}:"
        if not skipping:
            out.append(line)
    return "".join(out)


# ---- a loss that trains nothing, a graph without an optimizer ----------------------------
def test_a_loss_whose_output_reaches_no_optimizer_is_a_warning_at_its_line(tmp_path):
    path = tmp_path / "g.yaml"
    text = (GRAPHS / "dqn_target.yaml").read_text()
    path.write_text(text.replace("  optim:\n    type: Adam", "  optim:\n    type: Adam\n"
                                 "    until: 1", 1))
    assert warnings_of(path) == []  # an optimizer wired from the loss: fine
    path.write_text(without(text, "optim"))
    found = warnings_of(path)
    line = text.splitlines().index("  loss:") + 1
    assert any(w.startswith(f"{path}:{line}:3: warning: node 'loss': this loss reaches no "
                            f"optimizer") for w in found)
    # and the network then keeps its initial weights: said at the network's line
    qnet = text.splitlines().index("  qnet:") + 1
    assert any(w.startswith(f"{path}:{qnet}:3: warning: node 'qnet', port 'module': network "
                            "'qnet.module' is updated by no optimizer") for w in found)


def test_a_graph_without_loss_or_optimizer_warns_that_its_network_stays_as_built(tmp_path):
    path = tmp_path / "g.yaml"
    text = (GRAPHS / "dqn_target.yaml").read_text()
    for node in ("optim", "loss", "sample", "target"):
        text = without(text, node)
    path.write_text("".join(line for line in text.splitlines(keepends=True)
                            if "order:" not in line))
    found = warnings_of(path)
    assert len(found) == 1 and "network 'qnet.module' is updated by no optimizer" in found[0]


def test_a_subgraph_file_may_leave_the_training_of_what_it_exports_to_its_user(tmp_path):
    path = tmp_path / "learner.yaml"
    text = without((GRAPHS / "lib" / "dqn_learner.yaml").read_text(), "optim")
    path.write_text(text.replace("  lr: optim.lr\n", ""))
    assert warnings_of(path) == []  # its loss and module are outputs: trained outside


def test_every_shipped_graph_trains_what_it_builds():
    for path in [*GRAPHS.glob("*.yaml"), *GRAPHS.glob("lib/*.yaml")]:
        assert warnings_of(path) == [], path.name


# ---- a graph without Metrics --------------------------------------------------------------
def test_a_graph_without_metrics_is_warned_and_plot_says_why(tmp_path, capsys):
    path = tmp_path / "g.yaml"
    path.write_text(without(small_dqn(tmp_path).read_text(), "metrics"))
    found = warnings_of(path)
    assert len(found) == 1 and "warning: node 'env': no Metrics node: a run of this graph " \
        "writes no metrics.csv" in found[0]
    out = tmp_path / "run"
    assert main(["run", str(path), "--steps", "50", "--quiet", "--no-tensorboard",
                 "--out", str(out)]) == 0
    assert "no Metrics node" in capsys.readouterr().err  # said when it runs, too
    assert main(["plot", str(out), "-o", str(tmp_path / "p.png")]) == 1
    err = capsys.readouterr().err
    assert "no metrics.csv in this folder" in err and "has no Metrics node" in err


# ---- a build that fails leaves nothing behind ---------------------------------------------
def test_a_failed_build_leaves_no_run_folder(tmp_path, capsys, monkeypatch):
    path = tmp_path / "g.yaml"
    path.write_text((GRAPHS / "dqn_target.yaml").read_text().replace("CartPole-v1",
                                                                     "CartPol-v1"))
    monkeypatch.chdir(tmp_path)
    assert main(["run", str(path), "--steps", "10", "--quiet"]) == 1
    assert "cannot make gymnasium env 'CartPol-v1'" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()
    assert main(["run", str(path), "--steps", "10", "--quiet", "--out", "mine"]) == 1
    assert not (tmp_path / "mine").exists()


# ---- plot and compare agree ---------------------------------------------------------------
def test_plot_ends_a_shorter_run_where_it_ended(tmp_path, capsys):
    graph = small_dqn(tmp_path)
    for steps, name in ((60, "short"), (150, "long")):
        assert main(["run", str(graph), "--steps", str(steps), "--quiet", "--no-tensorboard",
                     "--out", str(tmp_path / name)]) == 0
        summary = json.loads((tmp_path / name / "summary.json").read_text())
        summary["graph"] = name  # two bands
        (tmp_path / name / "summary.json").write_text(json.dumps(summary))
    assert main(["plot", str(tmp_path / "short"), str(tmp_path / "long"),
                 "-o", str(tmp_path / "p.png")]) == 0
    import csv
    with open(tmp_path / "p.csv", newline="") as f:
        ends = {}
        for row in csv.DictReader(f):
            ends[row["graph"]] = float(row["env_steps"])
    assert ends["long"] == pytest.approx(149, abs=2)
    assert ends["short"] <= 59  # no flat line from 60 to 150


# ---- validate says what it did not check; --build checks it -------------------------------
@pytest.mark.parametrize("change,error", [
    (("CartPole-v1", "CartPol-v1"), f":{line_of(GRAPHS / 'dqn_target.yaml', '  env:')}:3: "
                                    "error: node 'env': cannot make gymnasium env 'CartPol-v1'"),
    (("CartPole-v1", "Pendulum-v1"), "error: node 'qnet', port 'spec': MLP is a Q-network "
                                     "for discrete actions; env 'Pendulum-v1'")])
def test_validate_build_makes_envs_and_networks(change, error, tmp_path, capsys):
    path = tmp_path / "g.yaml"
    path.write_text((GRAPHS / "dqn_target.yaml").read_text().replace(*change))
    assert main(["validate", str(path)]) == 0
    assert "ok (10 nodes); envs and networks not built (--build makes them" in \
        capsys.readouterr().out
    assert main(["validate", "--build", str(path)]) == 1
    assert error in capsys.readouterr().err
    assert main(["validate", "--build", str(GRAPHS / "dqn_target.yaml")]) == 0
    assert "ok (10 nodes), built: its envs and networks were made" in capsys.readouterr().out


# ---- run folders are self-contained -------------------------------------------------------
def test_custom_node_modules_travel_with_the_run_folder(tmp_path):
    """A run whose graph imports a module from beside its YAML can be evaluated (and
    resumed: the same rebuild) from another directory after the original folder is gone."""
    source = tmp_path / "project"
    source.mkdir()
    example = REPO / "examples" / "custom_loss"
    (source / "my_losses.py").write_text((example / "my_losses.py").read_text())
    (source / "dqn_mse.yaml").write_text(
        (example / "dqn_mse.yaml").read_text().replace("../../graphs/", str(GRAPHS) + "/"))
    run = tmp_path / "run"
    assert main(["run", str(source / "dqn_mse.yaml"), "--steps", "20", "--quiet",
                 "--no-tensorboard", "--out", str(run)]) == 0
    assert (run / "my_losses.py").read_text() == (example / "my_losses.py").read_text()
    for path in source.iterdir():
        path.unlink()
    source.rmdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = subprocess.run(  # a fresh process, which never imported my_losses
        [sys.executable, "-m", "rlgraph", "eval", str(run), "--episodes", "1"], cwd=elsewhere,
        env=dict(os.environ, PYTHONPATH=str(REPO)), capture_output=True, text=True,
        timeout=120)
    assert done.returncode == 0, done.stderr
    assert "1 greedy episodes of CartPole-v1" in done.stdout


# ---- the command line helps with typos ------------------------------------------------------
def test_a_mistyped_flag_gets_a_did_you_mean(capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["run", "graphs/dqn_target.yaml", "--stpes", "10"])
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert "rlgraph run: error: unrecognized arguments: --stpes 10" in err
    assert "--stpes: did you mean --steps?" in err


def test_a_mistyped_trigger_in_set_is_named_as_a_trigger(capsys):
    assert main(["validate", str(GRAPHS / "dqn_target.yaml"), "--set", "sample.evry=8"]) == 1
    err = capsys.readouterr().err
    assert "--set sample.evry=8: error: node 'sample': UniformSampler has no param 'evry'" \
        in err
    assert "did you mean the trigger 'every'?" in err and "--set sample.every=" in err


def test_a_mistyped_subgraph_param_in_set_suggests_the_exported_one(capsys):
    assert main(["validate", str(GRAPHS / "two_dqn.yaml"), "--set", "a.gama=0.9"]) == 1
    assert "hint: did you mean 'a.gamma'?" in capsys.readouterr().err
    assert main(["validate", str(GRAPHS / "two_dqn.yaml"), "--set", "a.x.y=1"]) == 1
    err = capsys.readouterr().err
    assert "'a.x' is a subgraph" not in err  # 'a.x' is not; the node names are listed
    assert main(["validate", str(GRAPHS / "two_dqn.yaml"), "--set", "a.zzz=1"]) == 1
    err = capsys.readouterr().err
    assert "'a' is a subgraph: its params are a.batch_size, a.gamma, a.hidden, a.lr" in err


def test_rlgraph_nodes_lists_the_triggers_and_shows_inherited_documentation(capsys):
    assert main(["nodes"]) == 0
    out = capsys.readouterr().out
    assert "triggers (every node): every N, after N, until N, on: node.port, repeat N" in out
    assert main(["nodes", "Adam"]) == 0
    out = capsys.readouterr().out
    assert "see Optimizer" in out and "from Optimizer (rlgraph.nodes.optim:Optimizer):" in out
    assert "NonFiniteError naming" in out  # Optimizer's own text, shown under Adam


# ---- diagrams tell two learners apart -------------------------------------------------------
def test_diagrams_show_each_nodes_key_params():
    from rlgraph.core import load
    from rlgraph.render import to_dot
    dot = to_dot(load(GRAPHS / "two_dqn.yaml"))
    assert "id CartPole-v1" in dot and "capacity 100000" in dot and "tau 1" in dot
    assert "gamma 0.99" in dot and "gamma 0.98" in dot  # a.loss and b.loss differ
    assert "hidden [256, 256]" in dot and "hidden [64, 64]" in dot
    assert "lr 0.0005" in dot and "lr 0.001" in dot


def test_cli_profile_prints_and_records_each_nodes_cost(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", str(small_dqn(tmp_path)), "--steps", "120", "--profile", "--quiet",
                 "--no-tensorboard", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "profile:" in text and "µs/call" in text and "(outside nodes)" in text
    profile = json.loads((out / "summary.json").read_text())["profile"]
    assert profile["nodes"]["env"]["calls"] == 120
    assert list(profile["nodes"]) == sorted(profile["nodes"], key=lambda n: -profile[
        "nodes"][n]["total_s"])
    for name, row in profile["nodes"].items():
        assert f"  {name} " in text and row["mean_us"] >= 0
