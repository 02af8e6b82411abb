"""What the workflow asks of nodes, declared: a node says what it is by inheriting one of
these, and the runner, the checkpoints, the CSV writers and evaluation find nodes by
them (`isinstance`), never by probing for attributes.

- Environment: steps environments, counts its env steps, and makes fresh copies of its
  env for evaluation;
- CountsEnvSteps: counts env steps (what a run's progress and logs count in);
- RowSource: keeps rows that a run writes to a CSV file and TensorBoard;
- Acting: a node on the acting path (env -> preprocessing -> policy -> env) that can
  act in evaluation: greedily or deterministically, changing no state;
- UsesGraph: works on the built graph as a whole (an evaluation node);
- PlansMemory: allocates after the build in proportion to its params (a replay
  buffer), and says how much before anything runs.
- UsesRunFolder: writes files of its own into the run folder (evaluation videos).

Like the rest of core, nothing here imports torch or gymnasium: the values are whatever
the node family uses (tensors, for the built-in nodes).
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, Protocol

from .node import Node, NodeDefinitionError, check_signature


class CountsEnvSteps(ABC):
    """A node that counts the env steps taken so far (all its envs together) in
    `env_steps`. A run's progress, logs and summary count in the sum over these nodes
    (in ticks, for a graph without one)."""

    env_steps: int


class EvalEnvs(Protocol):
    """Fresh copies of an environment for evaluation, stepped side by side: one episode
    in each. `reset` returns the first observations (in the form the node's `obs` output
    has); `step` takes one action per env and returns (observations, rewards, dones)
    with rewards and dones as sequences of numbers and booleans, one per env. Copies
    that can be watched also have `render()`, the first env's frame as an RGB array
    (videos; GymEnv's, when made with render_mode='rgb_array')."""

    num_envs: int

    def reset(self) -> Any: ...

    def step(self, action: Any) -> tuple[Any, Any, Any]: ...

    def close(self) -> None: ...


class Environment(CountsEnvSteps):
    """A node that steps environments: its policy feeds `action_input`, and evaluation
    replaces it by fresh copies whose observations stand in for its `obs_output`.

    Its state_dict, like every node's, is plain data: a checkpoint is untrusted input,
    and anything that must be unpickled goes through rlgraph.nodes.safe_pickle."""

    #: the input the policy's actions come in on
    action_input: ClassVar[str] = "action"
    #: the output evaluation envs provide (the observations the policy acts on)
    obs_output: ClassVar[str] = "obs"

    @property
    @abstractmethod
    def env_id(self) -> str:
        """What environment this is, as a user would name it (gymnasium's id)."""

    @abstractmethod
    def eval_envs(self, episodes: int, seed: int,
                  options: Mapping[str, Any] | None = None) -> EvalEnvs:
        """`episodes` fresh copies of the env, seeded seed, seed + 1, ...; evaluation
        never touches the node's own envs or their random numbers. `options` change how
        the copies are made, as the env family defines (GymEnv: keyword arguments for
        gymnasium.make that replace the training env's)."""

    @property
    def reward_threshold(self) -> float | None:
        """The mean return at which the task counts as solved (gymnasium's
        `env.spec.reward_threshold`), or None where the env defines none."""
        return None


class RowSource(ABC):
    """A node that keeps rows (one dict per record, keys `row_fields`) that a run appends
    to `<log_name>.csv` and TensorBoard between chunks of ticks."""

    #: the columns, in order
    row_fields: ClassVar[tuple[str, ...]] = ()
    #: the CSV file's name without .csv
    log_name: ClassVar[str] = ""
    rows: list[dict[str, Any]]
    name: str  # the node's (Node provides it)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not inspect.isabstract(cls) and (not cls.row_fields or not cls.log_name):
            raise NodeDefinitionError(f"{cls.__name__} is a RowSource: declare row_fields "
                                      f"and log_name")


class Acting:
    """A node on the acting path that evaluation can run: a policy, or a preprocessing
    node between the env and the policy (an observation normaliser, a frame stack).

    `act(**stream_inputs)` returns what `step` would emit when acting greedily or
    deterministically (a Q policy's argmax, a Gaussian policy's mean, a normaliser's
    output with its current statistics) and changes no state: no random draw, no
    schedule or statistics update. It takes the node's stream inputs by keyword, like
    `step` (inputs evaluation has no value for arrive as None). `act_mode` says in a
    word how it acts, for what `rlgraph eval` prints: greedy, deterministic, or pass (a
    node that hands on what it gets: a preprocessor, a warm-up)."""

    act_mode: ClassVar[str] = "deterministic"
    act: Callable[..., Mapping[str, Any]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "act" in vars(cls) and issubclass(cls, Node):
            stream = {k: p for k, p in cls.inputs.items() if not p.static}
            check_signature(cls, "act", stream, "stream", True)


class UsesGraph(ABC):
    """A node that works on the built graph as a whole (evaluation plays the graph's
    acting path): `attach(graph)` is called once, after every node is built and the
    tick is compiled, before the first tick."""

    @abstractmethod
    def attach(self, graph: Any) -> None:
        """Receive the built rlgraph.core.Graph."""


class PlansMemory(ABC):
    """A node that allocates memory after the build, in proportion to its params (a
    replay buffer fills its storage on the first transition): `plan_memory(specs)` is
    called once the graph's nodes are built, before anything runs, with the values of
    every spec output in the graph, and calls `self.reserve(nbytes, what)` for what it
    will hold, so that a size no machine holds is a located error before it is
    allocated (rlgraph.core.memory)."""

    @abstractmethod
    def plan_memory(self, specs: Sequence[Any]) -> None:
        """Reserve (Node.reserve) the memory this node will allocate."""


class UsesRunFolder(ABC):
    """A node that writes files of its own (videos) into the run folder:
    `use_run_folder(path)` is called before the first tick of every stretch of a run
    (`rlgraph run`, `resume`, `Agent.learn`). Outside a run it is never called."""

    @abstractmethod
    def use_run_folder(self, path: Any) -> None:
        """Receive the run folder (a pathlib.Path)."""


def acts(node: Node) -> bool:
    """Whether a node can act in evaluation (it is Acting and has an `act`)."""
    return isinstance(node, Acting) and callable(getattr(node, "act", None))
