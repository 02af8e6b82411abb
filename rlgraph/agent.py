"""The Python API: a graph file as an agent, with Stable-Baselines3's verbs.

    agent = rlgraph.Agent("graphs/dqn_target.yaml", seed=1, overrides={"loss.gamma": 0.98})
    agent.learn(20_000)                   # trains in a run folder, as `rlgraph run` does
    action = agent.predict(obs)           # the acting path, greedy / deterministic
    mean, std, returns = agent.evaluate(episodes=10)
    agent.save("models/dqn")              # a run folder; rlgraph.Agent.load reads it back

Everything goes through the functions the command line uses: the run folder, progress,
logs and checkpoints of rlgraph.workflow.runner, evaluation through the graph's acting
path (rlgraph.nodes.evaluation.Actor), checkpoints of rlgraph.workflow.checkpoint.
"""

from __future__ import annotations

import json
import shutil
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import yaml

from .core import REGISTRY, CheckedGraph, Graph, GraphError, GraphErrors, Loc, build, load
from .core.dump import dump_spec
from .render.diagram import Diagram
from .workflow import checkpoint as ckpt
from .workflow.evaluate import EVAL_SEED, checkpoint_of, evaluate_graph
from .workflow.runner import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    RunOptions,
    Session,
    check_run_dir,
    collect_report,
    make_run_dir,
    open_checkpoint,
    read_summary,
    seed_globals,
    set_threads,
    start_run_dir,
)
from .workflow.sources import copy_node_modules
from .workflow.writers import RunLog, env_steps

Overrides = Mapping[str, Any] | Sequence[str] | None


class Score(NamedTuple):
    """What `Agent.evaluate` returns: mean and standard deviation of the episode returns,
    and the returns themselves."""

    mean: float
    std: float
    returns: list[float]


class Agent:
    """A graph file loaded, checked and built: train it, act with it, score it, save it.

    graph: the graph file (YAML).
    seed: the graph's seed (default: the file's).
    steps: the run's length in ticks, which schedules "over the run" count (default:
        the file's `steps`); `learn()` without an argument runs to it.
    overrides: params and triggers to change, as `--set` does: {"loss.gamma": 0.98} or
        ["loss.gamma=0.98"].
    run_dir: the run folder `learn` trains in (default: runs/<graph>-<timestamp>, made on
        the first `learn`; an existing non-empty folder is never overwritten).
    threads: torch threads (default: $RLGRAPH_THREADS, else 1, as on the command line).
    quiet: no progress output; tensorboard: write TensorBoard events to the run folder.

    A graph with mistakes raises GraphErrors with the text `rlgraph validate` prints;
    suspicious wiring is issued as Python warnings (GraphWarning). The built graph is
    `agent.graph` (`agent.graph.nodes["qnet"]`, `agent.graph.value("qnet.module")`).
    """

    def __init__(self, graph: str | Path, *, seed: int | None = None,
                 steps: int | None = None, overrides: Overrides = None,
                 run_dir: str | Path | None = None, threads: int | None = None,
                 quiet: bool = False, tensorboard: bool = True) -> None:
        set_threads(threads)
        checked = load(graph, REGISTRY, override_strings(overrides))
        for warning in checked.warnings:
            warnings.warn(warning, stacklevel=2)
        if steps is not None:
            checked.spec.steps = steps
        if seed is not None:
            checked.spec.seed = seed
        if run_dir is not None:  # a folder that cannot be used is said before the build
            check_run_dir(checked.spec.name, run_dir)
        seed_globals(checked.spec.seed)
        self._setup(build(checked), str(graph), None,
                    RunOptions(quiet=quiet, tensorboard=tensorboard, threads=threads))
        self._out = run_dir

    def _setup(self, graph: Graph, file: str, run_dir: Path | None, options: RunOptions,
               resumed: dict[str, Any] | None = None) -> None:
        self.graph = graph
        self.file = file
        self.run_dir = run_dir  # None until the first learn()
        self.options = options
        self._resumed = resumed  # what the next stretch of training continues
        self._actor: Any = None
        self.profile: dict[str, Any] | None = None  # the last learn(profile=True)'s

    @classmethod
    def load(cls, path: str | Path, *, threads: int | None = None, quiet: bool = False,
             tensorboard: bool = True) -> Agent:
        """An agent from a run folder (`rlgraph run`'s, or `Agent.save`'s; its newest
        checkpoint) or a checkpoint file inside one, exactly as it was saved; `learn`
        continues in that run folder, as `rlgraph resume` does."""
        set_threads(threads)
        run_dir, checkpoint, _ = checkpoint_of(path)
        graph, payload = open_checkpoint(run_dir, checkpoint)
        agent = cls.__new__(cls)
        summary = read_summary(run_dir)
        agent._setup(graph, summary.get("file", str(run_dir / "graph.yaml")), run_dir,
                     RunOptions(quiet=quiet, tensorboard=tensorboard, threads=threads),
                     {"tick": payload["tick"], "extra": payload.get("extra", {})})
        agent._out = run_dir
        return agent

    # ---- training ------------------------------------------------------------------
    def learn(self, steps: int | None = None, *, profile: bool = False) -> Agent:
        """Train `steps` more ticks (default: until the graph's `steps`), continuing where
        the last call stopped, in the agent's run folder: progress on a terminal or in
        Jupyter, metrics.csv, TensorBoard, checkpoints and summary.json, as `rlgraph run`
        (then `rlgraph resume`) writes them. `profile` times every node (`--profile`).
        Returns the agent. Ctrl-C (a Jupyter interrupt) stops at the next chunk, saves a
        checkpoint and raises KeyboardInterrupt; `learn` again continues."""
        graph = self.graph
        if steps is None:
            total = graph.spec.steps
            if total is None or total <= graph.tick:
                raise GraphErrors([GraphError(
                    f"nothing to learn: the agent is at tick {graph.tick} of the graph's "
                    f"steps ({total})", Loc(self.file),
                    hint="pass the number of ticks: agent.learn(10_000)")])
        else:
            if steps < 1:
                raise ValueError(f"steps must be at least 1, got {steps}")
            total = graph.tick + steps
        drawing = None
        if self.run_dir is None:  # graph.yaml keeps the graph's steps, which its
            self.run_dir = make_run_dir(graph.spec.name, self._out)  # schedules count
            drawing = start_run_dir(self._checked(), graph, self.run_dir)
        options = RunOptions(**{**vars(self.options), "profile": profile})
        session = Session(graph, self.run_dir, self.file, total, options,
                          resumed=self._resumed, keep_open=True, drawing=drawing)
        code = session.run()
        self._resumed = {"tick": graph.tick, "extra": {"wall_s": session.wall_s()}}
        self.profile = session.profile
        if code == EXIT_INTERRUPTED:
            raise KeyboardInterrupt(f"stopped at tick {graph.tick}; the checkpoint is in "
                                    f"{self.run_dir} and learn() continues from it")
        if code != EXIT_OK:
            failure = session.summary.get("failure", {})
            raise FloatingPointError(failure.get("error", "training failed"))
        return self

    # ---- acting --------------------------------------------------------------------
    def predict(self, obs: Any, deterministic: bool = True) -> np.ndarray:
        """The action for one observation, or the actions for a batch (n, *obs_shape),
        as numpy: the graph's acting path, the preprocessing nodes between env and policy
        included, each through its `act` (a Q policy's argmax, a Gaussian's mean).
        Unlike SB3 it returns the action alone, not (action, state)."""
        if not deterministic:
            raise ValueError(
                "predict(deterministic=False) is not supported: outside the training tick "
                "a graph's policy acts only greedily/deterministically (its act()); "
                "exploration draws from the graph's random streams, which predict must "
                "not change")
        import torch

        from .nodes.device import torch_device
        actor = self._acting()
        shape = tuple(getattr(getattr(actor.env, "spec", None), "obs_shape", ()) or ())
        batch = np.asarray(obs, dtype=np.float32)
        single = bool(shape) and batch.shape == shape
        if single:
            batch = batch[None]
        elif shape and batch.shape[1:] != shape:
            raise ValueError(f"an observation of shape {batch.shape}; env "
                             f"'{actor.env.env_id}' has observations of shape {shape} "
                             f"(or a batch of them, (n, {', '.join(map(str, shape))}))")
        with torch.inference_mode():
            action = actor(torch.as_tensor(batch, device=torch_device(actor.env)))
        out = action.detach().cpu().numpy()
        return out[0] if single else out

    def evaluate(self, episodes: int = 10, seed: int = EVAL_SEED) -> Score:
        """Mean, standard deviation and the returns of `episodes` greedy/deterministic
        episodes in fresh copies of the env (seeded seed, seed + 1, ...), as `rlgraph
        eval` plays them; the graph's own envs and random numbers are untouched."""
        result = evaluate_graph(self.graph, episodes, seed)
        return Score(result.mean, result.std, result.returns)

    def _acting(self) -> Any:
        if self._actor is None:
            from .nodes.evaluation import Actor
            self._actor = Actor(self.graph)
        return self._actor

    # ---- files ---------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Save the agent as a run folder at `path`: graph.yaml, its node modules, the
        CSV rows, summary.json and one checkpoint of the whole graph state (replay
        included), so that `Agent.load(path)`, `rlgraph eval path` and `rlgraph resume
        path` continue exactly. An earlier save is replaced, any other non-empty folder
        refused; the agent's own run folder gets a checkpoint of now. Returns the
        checkpoint's path."""
        path = Path(path)
        graph = self.graph
        wall = float((self._resumed or {}).get("extra", {}).get("wall_s", 0.0))
        target = ckpt.checkpoint_path(path, graph.tick)
        payload = {"wall_s": wall, "total": graph.spec.steps}
        if self.run_dir is not None and path.resolve() == self.run_dir.resolve():
            ckpt.save(ckpt.snapshot(graph, True, payload), target)
            return target
        if path.is_dir() and any(path.iterdir()):
            if read_summary(path).get("status") != "saved" \
                    or not (path / "graph.yaml").is_file():
                raise GraphErrors([GraphError(
                    f"{path} is not empty and not an earlier Agent.save; saving would mix "
                    f"its files with others", Loc(str(path)),
                    hint="save to a new folder (a run folder of `rlgraph run` is never "
                         "overwritten; Agent.load it and save elsewhere)")])
            shutil.rmtree(path)  # an earlier save: replaced whole
        path.mkdir(parents=True, exist_ok=True)
        checked = self._checked()
        (path / "graph.yaml").write_text(dump_spec(checked.spec, graph.seeds),
                                         encoding="utf-8")
        copy_node_modules(checked, path)
        log = RunLog(path, graph, tensorboard=False, resumed=True)  # the CSV rows
        log.close()
        ckpt.save(ckpt.snapshot(graph, True, payload), target)
        summary = {"graph": graph.spec.name, "file": self.file, "seed": graph.spec.seed,
                   "status": "saved", "ticks": graph.tick, "total_ticks": graph.spec.steps,
                   "env_steps": env_steps(graph), "wall_s": round(wall, 3),
                   "checkpoint": str(target), "report": collect_report(graph),
                   "seeds": graph.seeds}
        (path / "summary.json").write_text(json.dumps(summary, indent=2, default=float)
                                           + "\n", encoding="utf-8")
        return target

    def render(self) -> Diagram:
        """The wiring diagram: inline SVG in Jupyter, `.save("agent.png")`."""
        return Diagram(self._checked())

    def _checked(self) -> CheckedGraph:
        return CheckedGraph(self.graph.spec, {name: type(node) for name, node
                                              in self.graph.nodes.items()})

    def close(self) -> None:
        """Close the graph's environments."""
        self.graph.close()

    def __enter__(self) -> Agent:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        where = f", run folder {self.run_dir}" if self.run_dir else ""
        return f"<Agent '{self.graph.spec.name}' at tick {self.graph.tick}{where}>"


def override_strings(overrides: Overrides) -> list[str]:
    """`--set` strings from a mapping ({"loss.gamma": 0.98}) or a list of them."""
    if overrides is None:
        return []
    if isinstance(overrides, Mapping):
        return [f"{key}={yaml.safe_dump(value, default_flow_style=True, width=10**6)}"
                .removesuffix("\n...\n").strip() for key, value in overrides.items()]
    if isinstance(overrides, str):
        return [overrides]
    return list(overrides)


__all__ = ["Agent", "Score", "override_strings"]
