"""What a command pays before any work: validate imports only the node modules a graph
uses, and building, saving and loading optimizers never imports torch._dynamo (timings
are in tools/bench_startup.py, not asserted here)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from workflow_nodes import GRAPHS, small_dqn

from rlgraph.cli import main
from rlgraph.core import REGISTRY

PROBE = """
import json, sys
from rlgraph.cli import main
assert main(["validate", sys.argv[1]]) == 0
validated = sorted(m for m in sys.modules if m.startswith("rlgraph.nodes."))
assert main(["eval", sys.argv[2], "--episodes", "1"]) == 0  # builds, loads a checkpoint
import torch
wrapped = [getattr(torch.optim.Optimizer, n).__wrapped__ for n in ("state_dict",
           "load_state_dict", "add_param_group", "zero_grad")]
print(json.dumps({"validated": validated, "dynamo": "torch._dynamo" in sys.modules,
                  "left": [hasattr(w, "__dynamo_disable") for w in wrapped]}))
"""


def test_validate_imports_only_its_modules_and_eval_never_imports_dynamo(tmp_path):
    run = tmp_path / "run"
    assert main(["run", str(small_dqn(tmp_path)), "--steps", "20", "--quiet",
                 "--no-tensorboard", "--out", str(run)]) == 0
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(GRAPHS / "dqn_target.yaml"), str(run)],
        capture_output=True, text=True, timeout=180, cwd=tmp_path,
        env=dict(os.environ, PYTHONPATH=str(GRAPHS.parent)))
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.strip().splitlines()[-1])
    modules = {m.rpartition(".")[2] for m in found["validated"]}
    assert {"envs", "nets", "policies", "nstep", "replay", "target", "losses", "optim",
            "metrics"} <= modules
    assert not modules & {"sac", "td3", "ppo", "actor_critic", "continuous", "rollout",
                          "prioritized", "selective", "normalize", "evaluation"}
    # building the optimizers and loading their state did not import torch's compiler,
    # and torch's own methods were left as they were
    assert found["dynamo"] is False and found["left"] == [False] * 4


def test_every_built_in_node_type_is_in_the_exports_table():
    from rlgraph.nodes import EXPORTS
    for name in REGISTRY.names():
        module, _, _ = REGISTRY.origin(name).partition(":")
        if module.startswith("rlgraph.nodes."):
            assert EXPORTS.get(name) == module.rpartition(".")[2], name
