"""Evaluation: how well a graph's policy does, acting greedily or deterministically on
episodes of its own.

Evaluation runs the graph's acting path (rlgraph.core.acting): fresh copies of the env
(Environment.eval_envs), then every node between the env and the policy, the policy
last, through their `act` (rlgraph.core.Acting): the preprocessing a policy was trained
behind applies, the policy acts without exploring, and nothing in the graph changes.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from rlgraph.core import (
    Acting,
    Environment,
    EvalEnvs,
    Graph,
    GraphError,
    GraphErrors,
    In,
    Kind,
    Node,
    NodeConfigError,
    Out,
    Param,
    RowSource,
    UsesGraph,
    UsesRunFolder,
    acting_path,
    acts,
    register,
    saved,
)

from .data import EnvSpec
from .device import torch_device
from .envs import MAX_ENVS, GymEvalEnvs

#: An evaluation policy: a batch of observations -> a batch of actions.
ActFn = Callable[[torch.Tensor], torch.Tensor]


def play_episodes(act: ActFn, envs: EvalEnvs, max_steps: int = 100_000,
                  on_frame: Callable[[], None] | None = None) -> tuple[list[float], list[int]]:
    """Returns and lengths of one episode in each of `envs`, acting with `act`; an
    episode still running after `max_steps` env steps counts with the return it has.
    `on_frame()` is called after the reset and after each step while the first episode
    runs (a video recorder renders there). `envs` is closed at the end."""
    n = envs.num_envs
    returns = np.zeros(n)
    lengths = np.zeros(n, dtype=np.int64)
    running = np.ones(n, dtype=bool)
    try:
        obs = envs.reset()
        if on_frame is not None:
            on_frame()
        for _ in range(max_steps):
            with torch.inference_mode():
                action = act(obs)
            obs, reward, done = envs.step(action)
            returns += np.where(running, reward, 0.0)
            lengths += running
            if on_frame is not None and running[0]:
                on_frame()
            running &= ~np.asarray(done, dtype=bool)
            if not running.any():
                break
    finally:
        envs.close()
    return returns.tolist(), lengths.tolist()


def greedy_returns(q: nn.Module, env_id: str, episodes: int, seed: int,
                   device: torch.device | str = "cpu", kwargs: dict[str, Any] | None = None,
                   max_steps: int = 100_000) -> tuple[list[float], list[int]]:
    """Returns and lengths of `episodes` episodes acting greedily with the Q-network `q`
    on raw observations of fresh copies of `env_id`, seeded seed, seed + 1, ... (a graph
    evaluates through its acting path instead: Actor)."""
    import gymnasium as gym
    probe = gym.make(env_id, **(kwargs or {}))
    spec = EnvSpec(env_id, probe.observation_space, probe.action_space, episodes)
    probe.close()
    envs = GymEvalEnvs(spec, kwargs or {}, episodes, seed, torch.device(device))
    return play_episodes(lambda obs: q(obs).argmax(dim=1), envs, max_steps)


def environments(graph: Graph) -> list[str]:
    """The graph's environment nodes, in file order."""
    return [name for name, node in graph.nodes.items() if isinstance(node, Environment)]


def module_outputs(graph: Graph) -> list[str]:
    """Every module output of the graph, as node.port."""
    return [f"{name}.{port}" for name, node in graph.nodes.items()
            for port, out in type(node).outputs.items() if out.kind is Kind.MODULE]


class Actor:
    """A graph's acting path as one function from observations to actions, for
    evaluation: the nodes between the env and the policy, then the policy, each through
    its `act` (greedy or deterministic, no state changed).

    env: the Environment node to act in (default: the graph's first).
    q: `node.port` of a Q-network to act greedily with in place of the policy (the
        preprocessing before the policy still applies).
    Problems (a node on the path that cannot act, an input evaluation has no value for)
    are GraphErrors naming the node and the wire.
    """

    def __init__(self, graph: Graph, env: str | None = None, q: str | None = None) -> None:
        envs = environments(graph)
        if not envs:
            raise _error(graph, "the graph has no environment node to evaluate in",
                         hint="evaluation plays the graph's policy in fresh copies of its "
                              "env (a GymEnv, or a node that is an rlgraph Environment)")
        self.graph = graph
        self.env_name = env or envs[0]
        node = graph.nodes[self.env_name]
        assert isinstance(node, Environment)
        self.env: Environment = node
        classes = {name: type(node) for name, node in graph.nodes.items()}
        path = acting_path(graph.spec, classes, self.env_name, self.env.action_input,
                           self.env.obs_output)
        if path.problems:
            raise GraphErrors(path.problems)
        self.path = path
        self.policy = path.policy
        self.q = q
        self._greedy_q = self._q_module(q) if q is not None else None
        self._steps = self._plan()

    def _q_module(self, ref: str) -> nn.Module:
        if ref not in module_outputs(self.graph):
            raise _error(self.graph, f"'{ref}' is not a network output of graph "
                         f"'{self.graph.spec.name}'",
                         hint="network outputs: " + ", ".join(module_outputs(self.graph)))
        if "obs" not in self.path.wires.get(self.policy.node, {}):
            raise _error(self.graph, f"the policy '{self.policy.node}' has no 'obs' input on "
                         f"the acting path for the Q-network '{ref}' to act on",
                         hint="evaluate the policy itself (without --q)")
        return self.graph.value(ref)

    def _plan(self) -> list[tuple[str, Acting, dict[str, tuple[str, str]]]]:
        steps: list[tuple[str, Acting, dict[str, tuple[str, str]]]] = []
        for name in self.path.nodes:
            node = self.graph.nodes[name]
            if name == self.policy.node and self._greedy_q is not None:
                continue
            if not isinstance(node, Acting) or not acts(node):
                spec = self.graph.spec.nodes[name]
                role = "the policy" if name == self.policy.node else \
                    f"on the path from '{self.env_name}' to the policy"
                raise GraphErrors([GraphError(
                    f"{type(node).__name__} is {role} but cannot act in evaluation: it is "
                    f"not an rlgraph Acting node with an act() method", spec.loc, node=name,
                    hint="subclass rlgraph.core.Acting and define act(**inputs): what step "
                         "emits when acting greedily/deterministically, changing no state")])
            steps.append((name, node, self.path.wires[name]))
        return steps

    @property
    def description(self) -> str:
        """How it acts, for a person: 'qnet.module through policy (EpsilonGreedy, greedy)'."""
        if self.q is not None:
            return f"{self.q} (greedy)"
        modules, acting = [], []
        for name in self.path.nodes:
            node = self.graph.nodes[name]
            modules += [str(e.src) for port, e in self.graph.spec.nodes[name].inputs.items()
                        if type(node).inputs[port].kind is Kind.MODULE]
            mode = node.act_mode if isinstance(node, Acting) else "deterministic"
            acting.append(f"{name} ({type(node).__name__}"
                          + ("" if mode == "pass" else f", {mode}") + ")")
        path = " -> ".join(acting)
        return f"{', '.join(modules)} through {path}" if modules else path

    @property
    def mode(self) -> str:
        """'greedy' or 'deterministic': how the policy acts in evaluation (the mode of
        the last node on the path that does not just pass actions or data on)."""
        if self.q is not None:
            return "greedy"
        modes = [node.act_mode for name in self.path.nodes
                 if isinstance(node := self.graph.nodes[name], Acting)
                 and node.act_mode != "pass"]
        return modes[-1] if modes else "deterministic"

    def __call__(self, obs: torch.Tensor) -> torch.Tensor:
        values: dict[tuple[str, str], Any] = {(self.env_name, self.env.obs_output): obs}
        for name, node, wires in self._steps:
            inputs = {port: values.get(src) for port, src in wires.items()}
            out = node.act(**inputs)
            for port, value in (out or {}).items():
                values[(name, port)] = value
        if self._greedy_q is not None:
            src = self.path.wires[self.policy.node]["obs"]
            return self._greedy_q(values[src]).argmax(dim=1)
        action = values.get((self.policy.node, self.policy.port))
        if action is None:
            raise _error(self.graph, f"'{self.policy}' emitted no action in evaluation",
                         hint=f"{type(self.graph.nodes[self.policy.node]).__name__}.act must "
                              f"return '{self.policy.port}'")
        return action

    def play(self, episodes: int, seed: int, max_steps: int = 100_000,
             options: dict[str, Any] | None = None) -> tuple[list[float], list[int]]:
        """Returns and lengths of `episodes` episodes in fresh copies of the env, seeded
        seed, seed + 1, ... (made with `options`, see Environment.eval_envs); neither the
        graph's envs nor its random numbers change."""
        return play_episodes(self, self.env.eval_envs(episodes, seed, options), max_steps)


def _error(graph: Graph, message: str, hint: str | None = None) -> GraphErrors:
    from rlgraph.core import Loc
    return GraphErrors([GraphError(message, Loc(str(graph.spec.file)), hint=hint)])


@register
class EvalEpisodes(Node, RowSource, UsesGraph, UsesRunFolder):
    """Plays greedy/deterministic episodes in a separate env each time it fires.

    It plays the graph's policy through its acting path: the nodes between the env its
    `spec` comes from and the policy apply, and the policy acts without exploring
    (rlgraph.core.Acting). With `q` wired it acts greedily with that Q-network instead
    (and, outside a graph, `q` is how it acts). The env is a fresh copy of the training
    env (its kwargs updated by `kwargs`), seeded from this node's seed and the number of
    evaluations so far, so evaluation never touches the training env or its random
    numbers. Fire it with triggers, e.g. `every: 5000`. Each evaluation adds a row to
    `rows` (tick, env_steps, episodes, return_mean, return_std, length_mean), which
    `rlgraph run` writes to eval-<node>.csv (eval.csv holds the run's own evaluations)
    and TensorBoard; env_steps counts the training env's steps (tick x num_envs).
    With `video: mp4` (or gif) each evaluation's first episode is also recorded to
    the run folder's videos/eval-<tick>.mp4 (the video extra: pip install -e
    ".[video]").
    """

    inputs = {
        "spec": In(Kind.SPEC, "the training env's spec (env.spec): which env to play"),
        "q": In(Kind.MODULE, "a Q-network to act greedily with instead of the graph's "
                "policy (optional)", role="q", optional=True),
    }
    outputs = {"return_mean": Out(Kind.SCALAR, "mean return of this evaluation's episodes; "
                                  "absent on ticks without one")}
    params = {
        "episodes": Param(int, 10, "episodes per evaluation (played side by side)", low=1,
                          high=MAX_ENVS),
        "kwargs": Param(dict, {}, "keyword arguments for gymnasium.make that replace "
                        "the training env's (e.g. max_episode_steps)"),
        "max_steps": Param(int, 100_000, "env steps after which an unfinished episode "
                           "counts with the return it has", low=1),
        "video": Param(str, None, "record each evaluation's first episode to the run "
                       "folder's videos/eval-<tick>.<video> (null: no video)",
                       choices=("mp4", "gif")),
    }

    row_fields = ("tick", "env_steps", "episodes", "return_mean", "return_std",
                  "length_mean")
    log_name = "eval"  # rlgraph run writes the rows to eval-<node>.csv

    episodes: int
    kwargs: dict[str, Any]
    max_steps: int
    video: str | None

    def setup(self, spec: EnvSpec, q: nn.Module | None = None) -> None:
        self.spec = spec
        self.q = q
        self._device = torch_device(self)
        self.rows: list[dict[str, Any]] = []
        self.actor: Actor | None = None
        self.videos: Any = None  # the folder videos go to, in a run

    def use_run_folder(self, path: Any) -> None:
        self.videos = path / "videos"

    def attach(self, graph: Graph) -> None:
        """Act through the graph's acting path for the env this node's spec comes from."""
        env = graph.spec.nodes[self.name].inputs["spec"].src.node
        if not isinstance(graph.nodes[env], Environment):
            raise NodeConfigError(f"'{env}' is not an environment node to evaluate in",
                                  port="spec", hint="wire spec from the env: env.spec")
        q_wire = graph.spec.nodes[self.name].inputs.get("q")
        try:
            self.actor = Actor(graph, env, str(q_wire.src) if q_wire is not None else None)
            if self.video is not None:  # a missing renderer fails the build, not a run
                from rlgraph.workflow.video import check_renders, check_video_path
                check_video_path(f"eval.{self.video}")
                check_renders(self.actor, self.name)
        except GraphErrors as exc:
            first = exc.errors[0]
            raise NodeConfigError(f"cannot evaluate: {first.message}", port="spec",
                                  hint=first.hint) from exc

    def step(self) -> dict[str, float]:
        seed = self.seed + len(self.rows) * self.episodes
        if self.actor is not None:
            returns, lengths = self.actor.play(self.episodes, seed, self.max_steps,
                                               self.kwargs)
        elif self.q is not None:
            returns, lengths = greedy_returns(self.q, self.spec.id, self.episodes, seed,
                                              self._device, self.kwargs, self.max_steps)
        else:
            self.fail("outside a graph, EvalEpisodes acts with its 'q' input", port="q",
                      hint="wire q, or build the node as part of a graph")
        if self.video is not None:
            self._record(seed)
        mean = statistics.fmean(returns)
        self.rows.append({
            "tick": self.clock.tick, "env_steps": self.clock.tick * self.spec.num_envs,
            "episodes": self.episodes, "return_mean": mean,
            "return_std": statistics.pstdev(returns), "length_mean": statistics.fmean(lengths)})
        return {"return_mean": mean}

    def _record(self, seed: int) -> None:
        """This evaluation's first episode (the same seed, so the same episode) to
        videos/eval-<tick>.<video>."""
        from rlgraph.workflow.video import record_episodes
        if self.videos is None or self.actor is None:
            self.fail("video needs a run folder to write to: run the graph with "
                      "`rlgraph run` or rlgraph.Agent.learn", hint="or set video: null")
        record_episodes(self.actor, self.videos / f"eval-{self.clock.tick:09d}.{self.video}",
                        1, seed, self.max_steps, self.kwargs)

    def report(self) -> dict[str, float]:
        return {"eval_return": self.rows[-1]["return_mean"]} if self.rows else {}

    def state_dict(self) -> dict[str, Any]:
        return {"rows": [dict(r) for r in self.rows]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rows = saved.rows(state, "rows", self.row_fields)
