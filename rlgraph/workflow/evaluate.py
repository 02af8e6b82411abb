"""`rlgraph eval RUN_DIR|CHECKPOINT [--checkpoint best|last|FILE]`: episodes of a trained
graph's policy, acting greedily or deterministically through its acting path."""

from __future__ import annotations

import statistics
from pathlib import Path

from ..nodes.evaluation import Actor
from . import checkpoint as ckpt
from .runner import open_checkpoint
from .scoring import EVAL_SEED, Evaluation, evaluate_actor, evaluate_graph

__all__ = ["EVAL_SEED", "Evaluation", "checkpoint_of", "eval_run", "evaluate_graph"]


CHOICES = ("best", "last")


def checkpoint_of(target: str | Path, choice: str | None = None) -> tuple[Path, Path, str]:
    """(run folder, checkpoint file, which one in words) from a run folder and `choice`:
    `last` (the default: the newest checkpoint), `best` (best.pt, the best evaluation's
    state) or a file name (in the folder's checkpoints/ or a path); or from a checkpoint
    file inside a run folder."""
    path = Path(target)
    if not path.exists():
        raise ckpt.checkpoint_error(path, "no such run folder or checkpoint file")
    if path.is_dir():
        return (path, *_choose(path, choice or "last"))
    if choice is not None:
        raise ckpt.checkpoint_error(path, f"--checkpoint {choice} chooses a checkpoint "
                                    "of a run folder, but this is a checkpoint file",
                                    hint=f"pass the run folder with --checkpoint {choice}, "
                                         "or the file alone")
    run_dir = path.parent.parent if path.parent.name == "checkpoints" else path.parent
    if not (run_dir / "graph.yaml").is_file():
        raise ckpt.checkpoint_error(
            path, f"not a checkpoint inside a run folder ({run_dir} has no graph.yaml, "
            "which says what graph to build)",
            hint="pass a run folder, or a checkpoints/ckpt-*.pt file inside one")
    return run_dir, path, "the checkpoint"


def _choose(run_dir: Path, choice: str) -> tuple[Path, str]:
    if choice == "last":
        return ckpt.latest(run_dir), "the newest checkpoint"
    if choice == "best":
        best = ckpt.best_path(run_dir)
        if not best.is_file():
            raise ckpt.checkpoint_error(
                run_dir, "no checkpoints/best.pt in this run folder: the run never "
                "evaluated (it ran with --eval-every 0 --final-episodes 0, or with an "
                "rlgraph older than its evaluations)", hint="use --checkpoint last")
        return best, "the best checkpoint"
    for path in (Path(choice), run_dir / "checkpoints" / choice):
        if path.is_file():
            return path, "the checkpoint"
    saved = [p.name for p in ckpt.list_checkpoints(run_dir)]
    raise ckpt.checkpoint_error(
        run_dir, f"no checkpoint '{choice}' in this run folder",
        hint="--checkpoint takes best, last, or a file: "
             + ", ".join([*CHOICES, *saved]))


def eval_run(target: str | Path, episodes: int = 10, seed: int = EVAL_SEED,
             q: str | None = None, checkpoint: str | None = None,
             video: str | Path | None = None, video_episodes: int = 1) -> int:
    from .video import check_video_path, record_episodes
    if video is not None:
        video = check_video_path(video)
    run_dir, path, which = checkpoint_of(target, checkpoint)
    graph, payload = open_checkpoint(run_dir, path)
    with graph:
        actor = Actor(graph, None, q)  # one acting path for the scores and the video
        result = evaluate_actor(actor, episodes, seed)
        if video is not None:
            recorded = record_episodes(actor, video, min(video_episodes, episodes), seed)
    returns = result.returns
    print(f"{graph.spec.name} at tick {graph.tick}, {which} ({path}): {episodes} "
          f"{result.mode} episodes of {result.env_id} with {result.acting}, seeds "
          f"{seed}..{seed + episodes - 1}")
    best = ((payload.get("extra", {}).get("evaluation") or {}).get("best")
            if path == ckpt.best_path(run_dir) else None)
    if best is not None:
        print(f"  chosen during the run as the best evaluation: return "
              f"{best['return_mean']:.2f} over {best['episodes']} episodes (seeds "
              f"{EVAL_SEED}..{EVAL_SEED + best['episodes'] - 1}) at env step "
              f"{best['env_steps']:,}")
    print(f"  return {result.mean:.2f} ± {result.std:.2f}  (min "
          f"{min(returns):g}, max {max(returns):g}, mean length "
          f"{statistics.fmean(result.lengths):.1f})")
    print("  returns: " + " ".join(f"{r:g}" for r in returns))
    if video is not None:
        print(f"wrote {video}: {len(recorded)} episode{'s' if len(recorded) != 1 else ''} "
              f"(returns {' '.join(f'{r:g}' for r in recorded)})")
    return 0
