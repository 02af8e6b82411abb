"""Greedy evaluation of a trained graph, and the evaluations of a run: on a schedule, the
best one so far, and the final one with its verdict.

Everything here plays the graph's acting path (rlgraph.nodes.evaluation.Actor): fresh
copies of the env, the preprocessing between env and policy, the policy acting greedily
or deterministically; nothing in the graph changes, so evaluating never moves a
training run off its random streams.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

from ..core import Graph, RowSource
from ..nodes.evaluation import Actor
from .writers import env_steps

#: the first evaluation episode's env seed; evaluation never reuses a training seed, and
#: every evaluation plays the same episodes, so scores of two checkpoints compare
EVAL_SEED = 1_000_000


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
    return evaluate_actor(Actor(graph, env, q), episodes, seed)


def evaluate_actor(actor: Actor, episodes: int, seed: int) -> Evaluation:
    """Episodes of an Actor already made for a graph (see evaluate_graph)."""
    returns, lengths = actor.play(episodes, seed)
    return Evaluation(actor.env.env_id, actor.description, actor.mode, seed, returns,
                      lengths)


class RunEvaluation(RowSource):
    """A run's evaluations: `episodes` greedy episodes every `every` ticks (0: none
    during training) and `final_episodes` at the end (0: none), each a row of eval.csv.

    The run evaluates between chunks of ticks, where the graph's state is whole, so the
    state an evaluation scored is the state a checkpoint written then holds: `best.pt`
    is exactly the network of the best row. Every evaluation plays the same episodes
    (env seeds EVAL_SEED, EVAL_SEED + 1, ...), so two rows compare checkpoints, not
    luck of the draw, and `rlgraph eval` with as many episodes repeats a row's score.
    The best row is the highest mean return; a tie keeps the earlier one. With `q`
    (`node.port`) it acts greedily with that Q-network instead of the policy.
    """

    row_fields = ("tick", "env_steps", "episodes", "return_mean", "return_std",
                  "return_min", "return_max", "length_mean")
    log_name = "eval"  # the run writes the rows to eval.csv
    name = "evaluation"  # TensorBoard tags evaluation/<field>; report evaluation/<key>

    def __init__(self, graph: Graph, every: int, episodes: int = 10,
                 final_episodes: int = 20, seed: int = EVAL_SEED, q: str | None = None
                 ) -> None:
        # a graph that cannot be evaluated fails here, before the first tick
        self.actor = Actor(graph, q=q)
        self.every, self.episodes, self.final_episodes = every, episodes, final_episodes
        self.seed = seed
        self.rows: list[dict[str, Any]] = []
        self.last_returns: list[float] = []  # the latest evaluation's episode returns
        self.best: dict[str, Any] | None = None  # the best row so far
        self.final: dict[str, Any] | None = None  # the final row, with its returns

    @property
    def env_id(self) -> str:
        return self.actor.env.env_id

    @property
    def reward_threshold(self) -> float | None:
        """The return at which the env counts as solved, where the env defines one."""
        return self.actor.env.reward_threshold

    def due(self, tick: int) -> bool:
        """Whether an evaluation falls at this chunk boundary (tick > 0)."""
        return bool(self.every) and tick > 0 and tick % self.every == 0

    def ticks_to_next(self, tick: int) -> int | None:
        """Ticks from `tick` to the next scheduled evaluation; None without a schedule."""
        return self.every - tick % self.every if self.every else None

    def evaluate(self, graph: Graph, episodes: int | None = None) -> bool:
        """Evaluate the graph as it is now, add the row; whether it is the new best."""
        result = evaluate_actor(self.actor, episodes or self.episodes, self.seed)
        row = {"tick": graph.tick, "env_steps": env_steps(graph),
               "episodes": len(result.returns), "return_mean": result.mean,
               "return_std": result.std, "return_min": min(result.returns),
               "return_max": max(result.returns),
               "length_mean": statistics.fmean(result.lengths)}
        self.rows.append(row)
        self.last_returns = result.returns
        if self.best is None or row["return_mean"] > self.best["return_mean"]:
            self.best = dict(row)
            return True
        return False

    def finish(self, graph: Graph) -> bool:
        """The final evaluation (`final_episodes` episodes, when > 0); whether it is the
        new best."""
        if not self.final_episodes:
            return False
        new_best = self.evaluate(graph, self.final_episodes)
        self.final = {**self.rows[-1], "seed": self.seed, "returns": self.last_returns}
        return new_best

    def report(self) -> dict[str, float]:
        """The latest evaluation's mean return, for progress and TensorBoard."""
        return {"eval_return": self.rows[-1]["return_mean"]} if self.rows else {}

    def verdict(self) -> dict[str, Any]:
        """What summary.json says about the agent: the final evaluation, the best one,
        and, where the env has a reward threshold, whether the final agent solves it."""
        threshold = self.reward_threshold
        return {
            "env": self.env_id, "acting": self.actor.description, "mode": self.actor.mode,
            "every": self.every, "episodes": self.episodes,
            "final_episodes": self.final_episodes, "evaluations": len(self.rows),
            "final": self.final, "best": self.best, "reward_threshold": threshold,
            "solved": (self.final["return_mean"] >= threshold
                       if self.final is not None and threshold is not None else None)}

    def state_dict(self) -> dict[str, Any]:
        return {"every": self.every, "episodes": self.episodes,
                "final_episodes": self.final_episodes, "rows": [dict(r) for r in self.rows],
                "best": dict(self.best) if self.best else None}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.rows = [dict(r) for r in state["rows"]]
        self.best = dict(state["best"]) if state["best"] else None


def verdict_lines(verdict: dict[str, Any]) -> list[str]:
    """The verdict of summary.json (RunEvaluation.verdict) for a person."""
    if "skipped" in verdict:
        return [f"no evaluation: {verdict['skipped']}"]
    final, best, env = verdict["final"], verdict["best"], verdict["env"]
    lines = []
    if final is not None:
        line = (f"final evaluation: return {final['return_mean']:.2f} ± "
                f"{final['return_std']:.2f} over {final['episodes']} {verdict['mode']} "
                f"episodes of {env} (min {final['return_min']:g}, max "
                f"{final['return_max']:g})")
        threshold = verdict["reward_threshold"]
        if threshold is not None:
            line += (f": {'solved' if verdict['solved'] else 'NOT solved'} ({env} counts "
                     f"as solved at a mean of {threshold:g})")
        lines.append(line)
    elif not verdict["final_episodes"]:
        lines.append("no final evaluation (--final-episodes 0)")
    else:
        lines.append("no final evaluation: the run did not reach its end")
    if best is not None:
        where = f": {best['checkpoint']}" if "checkpoint" in best else ""
        lines.append(f"best evaluation: return {best['return_mean']:.2f} over "
                     f"{best['episodes']} episodes at env step {best['env_steps']:,} "
                     f"(tick {best['tick']:,}){where}")
    return lines
