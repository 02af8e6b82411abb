"""Watching the agent: episodes of a graph's acting path recorded to MP4 or GIF.

`rlgraph eval RUN --video agent.mp4` and `EvalEpisodes` (param `video`) play episodes
through the same acting path as evaluation (rlgraph.nodes.evaluation.Actor), in fresh
copies of the env made with gymnasium's `render_mode="rgb_array"`, one episode after
another, each frame written as it comes (a CartPole frame is 0.7 MB; an episode is never
held in memory). Rendering classic-control envs needs pygame, and writing the files
imageio (GIF) and imageio-ffmpeg (MP4): the `video` extra, `pip install -e ".[video]"`.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any

from ..core import GraphError, GraphErrors, Loc

FORMATS = (".mp4", ".gif")
INSTALL = 'pip install -e ".[video]"  (from PyPI: pip install "rlgraph-dataflow[video]")'
DEFAULT_FPS = 30


def video_error(where: str, message: str, hint: str = INSTALL) -> GraphErrors:
    return GraphErrors([GraphError(message, Loc(where), hint=hint)])


def check_video_path(path: str | Path) -> Path:
    """`path` as a video file this machine can write (.mp4 or .gif, the writers
    installed); a clear error otherwise, before anything is played."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise video_error(str(path), "a video is an .mp4 or a .gif file",
                          hint="end the name with .mp4 or .gif")
    missing = [name for name in ("imageio", "imageio_ffmpeg" if suffix == ".mp4" else "")
               if name and importlib.util.find_spec(name) is None]
    if missing:
        raise video_error(str(path), f"writing {suffix} videos needs "
                          f"{' and '.join(m.replace('_', '-') for m in missing)}, which "
                          "is not installed")
    return path


def check_renders(actor: Any, where: str) -> None:
    """Render one frame of the actor's env, so that a missing renderer (pygame) is an
    error now rather than at the first recording."""
    envs = _render_envs(actor, DEFAULT_SEED, where)
    try:
        envs.reset()
        _frame(envs, actor, where)
    finally:
        envs.close()


DEFAULT_SEED = 0


def record_episodes(actor: Any, path: str | Path, episodes: int, seed: int,
                    max_steps: int = 100_000, options: dict[str, Any] | None = None
                    ) -> list[float]:
    """Play `episodes` episodes through `actor` (seeded seed, seed + 1, ..., as an
    evaluation's; envs made with `options`, see Environment.eval_envs), one after
    another, writing every frame to `path`; their returns."""
    from ..nodes.evaluation import play_episodes
    path = check_video_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    where = str(path)
    returns: list[float] = []
    writer = None
    try:
        for i in range(episodes):
            envs = _render_envs(actor, seed + i, where, options)
            if writer is None:
                writer = _writer(path, _fps(envs))
            out = writer

            def frame(envs: Any = envs, out: Any = out) -> None:
                out.append_data(_frame(envs, actor, where))
            ret, _ = play_episodes(actor, envs, max_steps, on_frame=frame)
            returns += ret
    finally:
        if writer is not None:
            writer.close()
    return returns


def _render_envs(actor: Any, seed: int, where: str,
                 options: dict[str, Any] | None = None) -> Any:
    """One fresh copy of the actor's env that renders rgb_array frames."""
    import gymnasium as gym
    for driver in ("SDL_VIDEODRIVER", "SDL_AUDIODRIVER"):  # pygame draws off-screen:
        os.environ.setdefault(driver, "dummy")            # no window, no sound device
    try:
        envs = actor.env.eval_envs(1, seed, {**(options or {}), "render_mode": "rgb_array"})
    except (gym.error.Error, TypeError) as exc:
        raise video_error(where, f"cannot make env '{actor.env.env_id}' with "
                          f"render_mode='rgb_array': {exc}",
                          hint="record an env that renders frames") from None
    if not callable(getattr(envs, "render", None)):
        envs.close()
        raise video_error(where, f"env node '{actor.env_name}' "
                          f"({type(actor.env).__name__}) cannot render frames",
                          hint="its eval_envs need a render() that returns RGB arrays")
    return envs


def _frame(envs: Any, actor: Any, where: str) -> Any:
    import gymnasium as gym
    import numpy as np
    try:
        frame = envs.render()
    except gym.error.DependencyNotInstalled as exc:
        envs.close()
        raise video_error(where, f"cannot render '{actor.env.env_id}': {exc}") from None
    if frame is None:
        envs.close()
        raise video_error(where, f"env '{actor.env.env_id}' rendered no rgb_array frame",
                          hint="record an env whose render_modes include rgb_array")
    return np.asarray(frame, dtype=np.uint8)


def _fps(envs: Any) -> int:
    metadata = getattr(getattr(envs, "env", None), "metadata", None) or {}
    return int(metadata.get("render_fps") or DEFAULT_FPS)


def _writer(path: Path, fps: int) -> Any:
    import imageio.v2 as imageio
    if path.suffix.lower() == ".gif":  # GIF durations are in ms, looping forever
        return imageio.get_writer(path, mode="I", duration=1000 / fps, loop=0)
    # libx264 needs even sizes; 2 keeps the frame's own size for every shipped env
    return imageio.get_writer(path, fps=fps, macro_block_size=2)
