"""`rlgraph eval RUN_DIR|CHECKPOINT`: greedy episodes of a trained Q-network."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path

from . import checkpoint as ckpt
from ..core import Graph, GraphError, GraphErrors, Loc
from ..core.ports import Kind
from ..nodes.envs import GymEnv
from ..nodes.evaluation import greedy_returns
from .runner import open_checkpoint

EVAL_SEED = 1_000_000  # evaluation episodes never reuse a training seed


def checkpoint_of(target: str | Path) -> tuple[Path, Path]:
    """(run folder, checkpoint file) from a run folder (its newest checkpoint) or a
    checkpoint file inside one."""
    path = Path(target)
    if not path.exists():
        raise ckpt.checkpoint_error(path, "no such run folder or checkpoint file")
    if path.is_dir():
        return path, ckpt.latest(path)
    run_dir = path.parent.parent if path.parent.name == "checkpoints" else path.parent
    if not (run_dir / "graph.yaml").is_file():
        raise ckpt.checkpoint_error(
            path, f"not a checkpoint inside a run folder ({run_dir} has no graph.yaml, "
            "which says what graph to build)",
            hint="pass a run folder, or a checkpoints/ckpt-*.pt file inside one")
    return run_dir, path


def find_env(graph: Graph) -> GymEnv:
    envs = [node for node in graph.nodes.values() if isinstance(node, GymEnv)]
    if not envs:
        raise GraphErrors([GraphError("the graph has no GymEnv to evaluate in",
                                      Loc(str(graph.spec.file)))])
    return envs[0]


def find_q(graph: Graph, env: GymEnv) -> str:
    """`node.port` of the module the acting policy uses: the module input of the node
    whose actions the env takes."""
    edge = graph.spec.nodes[env.name].inputs.get("action")
    policy = edge.src.node if edge is not None else None
    modules = [] if policy is None else [
        str(e.src) for port, e in graph.spec.nodes[policy].inputs.items()
        if type(graph.nodes[policy]).inputs[port].kind is Kind.MODULE]
    if len(modules) != 1:
        raise GraphErrors([GraphError(
            "cannot tell which network the policy acts with", Loc(str(graph.spec.file)),
            hint="name it: --q " + " | --q ".join(module_outputs(graph) or ["NODE.PORT"]))])
    return modules[0]


def module_outputs(graph: Graph) -> list[str]:
    return [f"{name}.{port}" for name, node in graph.nodes.items()
            for port, out in type(node).outputs.items() if out.kind is Kind.MODULE]


@dataclass
class Evaluation:
    """Greedy episodes of one network of a graph, one per env seeded seed, seed + 1, ..."""

    env_id: str
    q: str  # the network, as node.port
    seed: int
    returns: list[float]
    lengths: list[int]

    @property
    def mean(self) -> float:
        return statistics.fmean(self.returns)


def evaluate_graph(graph: Graph, episodes: int = 10, seed: int = EVAL_SEED,
                   q: str | None = None) -> Evaluation:
    """Greedy episodes of a set-up graph's network `q` (`node.port`; default: the one its
    policy acts with) in a fresh copy of its first GymEnv; neither the graph's env nor
    its random numbers are touched. Any script that scores a graph mid-training can call
    this (tools/bench_learning.py's evaluate() measures the same returns)."""
    env = find_env(graph)
    ref = q or find_q(graph, env)
    if ref not in module_outputs(graph):
        raise GraphErrors([GraphError(
            f"'{ref}' is not a network output of graph '{graph.spec.name}'",
            Loc(str(graph.spec.file)),
            hint="network outputs: " + ", ".join(module_outputs(graph)))])
    module = graph.value(ref)
    device = next(module.parameters()).device
    returns, lengths = greedy_returns(module, env.id, episodes, seed, device, env.kwargs)
    return Evaluation(env.id, ref, seed, returns, lengths)


def eval_run(target: str | Path, episodes: int = 10, seed: int = EVAL_SEED,
             q: str | None = None) -> int:
    run_dir, path = checkpoint_of(target)
    graph, _ = open_checkpoint(run_dir, path)
    with graph:
        result = evaluate_graph(graph, episodes, seed, q)
    returns = result.returns
    print(f"{graph.spec.name} at tick {graph.tick} ({path}): {episodes} greedy episodes "
          f"of {result.env_id} with {result.q}, seeds {seed}..{seed + episodes - 1}")
    print(f"  return {result.mean:.2f} ± {statistics.pstdev(returns):.2f}  (min "
          f"{min(returns):g}, max {max(returns):g}, mean length "
          f"{statistics.fmean(result.lengths):.1f})")
    print("  returns: " + " ".join(f"{r:g}" for r in returns))
    return 0
