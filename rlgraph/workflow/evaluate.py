"""`rlgraph eval RUN_DIR|CHECKPOINT`: episodes of a trained graph's policy, acting
greedily or deterministically through its acting path."""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path

from ..core import Graph
from ..nodes.evaluation import Actor
from . import checkpoint as ckpt
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


@dataclass
class Evaluation:
    """Greedy/deterministic episodes of a graph's policy, one per env seeded seed,
    seed + 1, ..."""

    env_id: str
    acting: str  # how it acted: 'qnet.module through policy (EpsilonGreedy, greedy)'
    mode: str  # greedy or deterministic
    seed: int
    returns: list[float]
    lengths: list[int]

    @property
    def mean(self) -> float:
        return statistics.fmean(self.returns)

    @property
    def std(self) -> float:
        return statistics.pstdev(self.returns)


def evaluate_graph(graph: Graph, episodes: int = 10, seed: int = EVAL_SEED,
                   q: str | None = None, env: str | None = None) -> Evaluation:
    """Episodes of a built graph's policy acting greedily/deterministically through its
    acting path (the preprocessing between env and policy included; see
    rlgraph.nodes.evaluation.Actor) in fresh copies of its env (`env`, default the first
    environment node); with `q` (`node.port`), greedily with that Q-network instead.
    Neither the graph's envs nor its random numbers are touched, so any script can score
    a graph mid-training."""
    actor = Actor(graph, env, q)
    returns, lengths = actor.play(episodes, seed)
    return Evaluation(actor.env.env_id, actor.description, actor.mode, seed, returns,
                      lengths)


def eval_run(target: str | Path, episodes: int = 10, seed: int = EVAL_SEED,
             q: str | None = None, video: str | Path | None = None,
             video_episodes: int = 1) -> int:
    from .video import check_video_path, record_episodes
    if video is not None:
        video = check_video_path(video)
    run_dir, path = checkpoint_of(target)
    graph, _ = open_checkpoint(run_dir, path)
    with graph:
        result = evaluate_graph(graph, episodes, seed, q)
        if video is not None:
            recorded = record_episodes(Actor(graph, None, q), video,
                                       min(video_episodes, episodes), seed)
    returns = result.returns
    print(f"{graph.spec.name} at tick {graph.tick} ({path}): {episodes} {result.mode} "
          f"episodes of {result.env_id} with {result.acting}, seeds "
          f"{seed}..{seed + episodes - 1}")
    print(f"  return {result.mean:.2f} ± {result.std:.2f}  (min "
          f"{min(returns):g}, max {max(returns):g}, mean length "
          f"{statistics.fmean(result.lengths):.1f})")
    print("  returns: " + " ".join(f"{r:g}" for r in returns))
    if video is not None:
        print(f"wrote {video}: {len(recorded)} episode{'s' if len(recorded) != 1 else ''} "
              f"(returns {' '.join(f'{r:g}' for r in recorded)})")
    return 0
