"""A gymnasium env's state as plain data, for checkpoints: state adapters per env family.

A checkpoint never holds a pickled env object where the env family allows better: for
an env whose class has a *state adapter* and whose wrappers all have one, it holds

- the env's own state, as the adapter saves it (CartPole: the 4 physics numbers and
  `steps_beyond_terminated`; MuJoCo would save qpos, qvel and time);
- the env's random generator (`np_random`: its bit generator's state) and seed, and
  those of its action and observation spaces;
- the state of each wrapper gymnasium.make put around it (TimeLimit's elapsed steps,
  OrderEnforcing's has-reset flag, the env checker's flags);

and restores them into the env the graph made afresh from its id. Nothing is built from
the file but numbers, arrays and strings. Envs without adapters fall back to a pickle,
read by the restricted unpickler (`safe_pickle.safe_loads`), which builds only the
classes the freshly made env is itself made of, never running a constructor.

Adding an env family is one call, next to the family's code or in a node package:

    from rlgraph.nodes.envstate import Attributes, register_env_state, vector
    register_env_state(MyEnv, Attributes(state=vector(6), steps=optional(int)))

`Attributes` saves and restores named attributes of the unwrapped env, each checked
on load by its validator (`vector(n)`, `optional(int)`, `boolean`, `number`); for
state that is not plain attributes (MuJoCo's qpos/qvel/time go through
`env.set_state`), pass any object with `save(env) -> dict` and `load(env, dict)` (see
`StateAdapter`). Register with `subclasses=True` to cover a base class's subclasses
(a family like MujocoEnv whose subclasses add no state). Exact resume holds when the
adapter saves everything `step` and `reset` read.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Iterator
from typing import Any, Protocol

import gymnasium as gym
import numpy as np
from gymnasium.envs.registration import EnvSpec, WrapperSpec

from .safe_pickle import UnsafePickle, class_key, safe_loads

Validator = Callable[[Any], Any]  # checks a loaded value, returns it as the env keeps it


class EnvStateError(ValueError):
    """Saved env state that does not fit the env the graph made."""


class StateAdapter(Protocol):
    """Saves and restores one env family's (or one wrapper's) state as plain data."""

    def save(self, env: Any) -> dict[str, Any]:
        """The state: numbers, strings, None, numpy arrays, tuples, lists, dicts."""
        ...

    def load(self, env: Any, state: dict[str, Any]) -> None:
        """Set `state` (from a checkpoint: untrusted) on `env`; EnvStateError if it does
        not fit."""
        ...


# ---- validators: what a saved value may be --------------------------------------------
def vector(n: int) -> Validator:
    """A vector of n numbers (an ndarray, or a tuple the env keeps as one), or None (an
    env not reset yet)."""
    def check(value: Any) -> Any:
        if value is None:
            return None
        array = np.asarray(value)
        if array.shape != (n,) or array.dtype.kind not in "fiu":
            raise EnvStateError(f"expected {n} numbers, got {_what(value)}")
        return array.copy()
    return check


def optional(kind: type) -> Validator:
    """None or a number of that kind (int or float; numpy scalars included)."""
    def check(value: Any) -> Any:
        if value is None:
            return None
        return number_of(kind)(value)
    return check


def number_of(kind: type) -> Validator:
    def check(value: Any) -> Any:
        ok = (np.issubdtype(type(value), np.integer) if kind is int
              else np.issubdtype(type(value), np.number))
        if isinstance(value, (bool, np.bool_)) or not ok:
            raise EnvStateError(f"expected {'an integer' if kind is int else 'a number'}, "
                                f"got {_what(value)}")
        return value
    return check


def boolean(value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise EnvStateError(f"expected true or false, got {_what(value)}")
    return bool(value)


number = number_of(float)


def _what(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"an array of shape {value.shape} ({value.dtype})"
    return f"{type(value).__name__} {value!r}"[:80]


class Attributes:
    """Saves and restores named attributes of an env (or wrapper), each checked on load
    by its validator."""

    def __init__(self, **fields: Validator) -> None:
        self.fields = fields

    def save(self, env: Any) -> dict[str, Any]:
        return {name: _copy(getattr(env, name, None)) for name in self.fields}

    def load(self, env: Any, state: dict[str, Any]) -> None:
        if set(state) != set(self.fields):
            raise EnvStateError(f"expected the fields {sorted(self.fields)}, got "
                                f"{sorted(map(str, state))}")
        for name, check in self.fields.items():
            try:
                setattr(env, name, check(state[name]))
            except EnvStateError as exc:
                raise EnvStateError(f"{name}: {exc}") from None


def _copy(value: Any) -> Any:
    if isinstance(value, tuple):  # MountainCar keeps (position, velocity) after a step
        return np.array(value)
    return value.copy() if isinstance(value, np.ndarray) else value


class CheckerFlags(Attributes):
    """gymnasium's PassiveEnvChecker: which checks already ran (they only warn). The
    data-reuse check compares two consecutive steps' outputs, which are not saved, so a
    restored env that has stepped skips it."""

    def __init__(self) -> None:
        super().__init__(checked_reset=boolean, checked_step=boolean, checked_render=boolean)

    def load(self, env: Any, state: dict[str, Any]) -> None:
        super().load(env, state)
        env.checked_data_reuse = env.checked_step
        env._previous_data = None


# ---- the registry ----------------------------------------------------------------------
_ENVS: dict[type, tuple[StateAdapter, bool]] = {}
_WRAPPERS: dict[type, StateAdapter] = {
    gym.wrappers.TimeLimit: Attributes(_elapsed_steps=optional(int)),
    gym.wrappers.OrderEnforcing: Attributes(_has_reset=boolean),
    gym.wrappers.PassiveEnvChecker: CheckerFlags(),
}


def register_env_state(cls: type, adapter: StateAdapter, subclasses: bool = False) -> None:
    """Save envs of class `cls` (and of its subclasses, with `subclasses=True`) as data
    through `adapter` in checkpoints."""
    _ENVS[cls] = (adapter, subclasses)


def register_wrapper_state(cls: type, adapter: StateAdapter) -> None:
    """Save the state of wrapper class `cls` through `adapter` (Attributes() for a
    stateless wrapper), so that envs wrapped in it are still saved as data."""
    _WRAPPERS[cls] = adapter


def env_adapter(env: Any) -> StateAdapter | None:
    cls = type(env)
    if cls in _ENVS:
        return _ENVS[cls][0]
    for base in cls.__mro__[1:]:
        if base in _ENVS and _ENVS[base][1]:
            return _ENVS[base][0]
    return None


def _register_classic_control() -> None:
    from gymnasium.envs.classic_control import (
        AcrobotEnv,
        CartPoleEnv,
        Continuous_MountainCarEnv,
        MountainCarEnv,
        PendulumEnv,
    )
    register_env_state(CartPoleEnv, Attributes(state=vector(4),
                                               steps_beyond_terminated=optional(int)))
    register_env_state(AcrobotEnv, Attributes(state=vector(4)))
    register_env_state(MountainCarEnv, Attributes(state=vector(2)))
    register_env_state(Continuous_MountainCarEnv, Attributes(state=vector(2)))
    register_env_state(PendulumEnv, Attributes(state=vector(2),
                                               last_u=optional(float)))


_register_classic_control()


class MujocoState:
    """A MuJoCo env's simulator state: positions, velocities, actuator activations and
    controls, the solver's warm start (so that the next step computes the same numbers
    to the last bit) and the simulation time; restored into the env's own MjData, then
    mj_forward recomputes everything derived from them."""

    FIELDS = ("qpos", "qvel", "act", "ctrl", "qacc_warmstart")

    def save(self, env: Any) -> dict[str, Any]:
        data = env.data
        return {**{name: getattr(data, name).copy() for name in self.FIELDS},
                "time": float(data.time)}

    def load(self, env: Any, state: dict[str, Any]) -> None:
        import mujoco
        if set(state) != {*self.FIELDS, "time"}:
            raise EnvStateError(f"expected the fields {sorted({*self.FIELDS, 'time'})}, got "
                                f"{sorted(map(str, state))}")
        data = env.data
        for name in self.FIELDS:
            target = getattr(data, name)
            value = np.asarray(state[name])
            if value.shape != target.shape or value.dtype.kind not in "fiu":
                raise EnvStateError(f"{name}: expected {target.shape[0]} numbers, got "
                                    f"{_what(state[name])}")
            target[:] = value
        data.time = number(state["time"])
        mujoco.mj_forward(env.model, data)


def _register_mujoco() -> None:
    """MuJoCo envs (the optional extra .[mujoco]): every subclass of gymnasium's
    MujocoEnv keeps its state in MjData, which MujocoState saves whole."""
    try:
        from gymnasium.envs.mujoco.mujoco_env import MujocoEnv
    except Exception:  # mujoco not installed (or not loadable): no adapter
        return
    register_env_state(MujocoEnv, MujocoState(), subclasses=True)


_register_mujoco()


# ---- one env: save and load --------------------------------------------------------------
def wrappers(env: Any) -> Iterator[Any]:
    """The wrappers around the env, outermost first."""
    while isinstance(env, gym.Wrapper):
        yield env
        env = env.env


def _name(obj: Any) -> str:
    return ":".join(class_key(type(obj)))


def saved_as_data(env: Any) -> bool:
    """Whether `env` is saved as data: its class and all its wrappers have adapters."""
    return env_adapter(env.unwrapped) is not None and all(
        type(w) in _WRAPPERS for w in wrappers(env))


def save_env(env: Any) -> dict[str, Any]:
    """One env's state as plain data, or as {"pickle": bytes} without an adapter."""
    base = env.unwrapped
    adapter = env_adapter(base)
    if adapter is None or not saved_as_data(env):
        return {"pickle": pickle.dumps(env, protocol=pickle.HIGHEST_PROTOCOL)}
    return {"class": _name(base), "state": adapter.save(base),
            "rng": _rng_state(getattr(base, "_np_random", None)),
            "seed": getattr(base, "_np_random_seed", None),
            "spaces": {"action": _rng_state(getattr(base.action_space, "_np_random", None)),
                       "observation": _rng_state(getattr(base.observation_space,
                                                         "_np_random", None))},
            "wrappers": [{"class": _name(w), "state": _WRAPPERS[type(w)].save(w)}
                         for w in wrappers(env)]}


def load_env(env: Any, saved: Any) -> Any:
    """The env to step after loading `saved` (from a checkpoint) into `env`, freshly
    made from the graph's id: `env` itself for data; a new env from a pickle (read by the
    restricted unpickler, which allows only the classes `env` is made of).
    EnvStateError or UnsafePickle when the saved state does not fit."""
    if not isinstance(saved, dict):
        raise EnvStateError(f"expected a saved env, got {_what(saved)}")
    if saved_as_data(env):
        if "pickle" in saved:
            raise UnsafePickle(f"{_name(env.unwrapped)} is saved as data, never as a "
                               f"pickle; this pickle was not written by rlgraph")
        _load_data(env, saved)
        return env
    if set(saved) != {"pickle"}:
        raise EnvStateError(f"{_name(env.unwrapped)} has no state adapter here, but the "
                            f"checkpoint saved it as data")
    loaded = safe_loads(saved["pickle"], env_classes(env))
    if _chain(loaded) != _chain(env):
        raise EnvStateError(f"the checkpoint holds {' < '.join(_chain(loaded))}, the graph "
                            f"makes {' < '.join(_chain(env))}")
    return loaded


def _chain(env: Any) -> list[str]:
    if not isinstance(env, gym.Env):
        return [_what(env)]
    return [_name(w) for w in wrappers(env)] + [_name(env.unwrapped)]


def _load_data(env: Any, saved: dict[str, Any]) -> None:
    expected = {"class", "state", "rng", "seed", "spaces", "wrappers"}
    if set(saved) != expected:
        raise EnvStateError(f"a saved env has the fields {sorted(expected)}, this one "
                            f"{sorted(map(str, saved))}")
    if _chain_of(saved) != _chain(env):
        raise EnvStateError(f"the checkpoint holds {' < '.join(_chain_of(saved))}, the "
                            f"graph makes {' < '.join(_chain(env))}")
    base = env.unwrapped
    state, spaces = saved["state"], saved["spaces"]
    if not isinstance(state, dict) or not isinstance(spaces, dict) \
            or set(spaces) != {"action", "observation"}:
        raise EnvStateError("the env's state or its spaces' generators are damaged")
    adapter = env_adapter(base)
    assert adapter is not None  # saved_as_data(env) holds
    adapter.load(base, state)
    base._np_random = _generator(saved["rng"])
    base._np_random_seed = optional(int)(saved["seed"])
    base.action_space._np_random = _generator(spaces["action"])
    base.observation_space._np_random = _generator(spaces["observation"])
    for wrapper, entry in zip(wrappers(env), saved["wrappers"]):
        if not isinstance(entry["state"], dict):
            raise EnvStateError(f"{entry['class']}: damaged state")
        try:
            _WRAPPERS[type(wrapper)].load(wrapper, entry["state"])
        except EnvStateError as exc:
            raise EnvStateError(f"{entry['class']}: {exc}") from None


def _chain_of(saved: dict[str, Any]) -> list[str]:
    entries = saved["wrappers"]
    if not isinstance(entries, list) or not all(
            isinstance(e, dict) and set(e) == {"class", "state"} for e in entries):
        raise EnvStateError("the list of wrappers is damaged")
    return [str(e["class"]) for e in entries] + [str(saved["class"])]


# ---- random generators as data -------------------------------------------------------------
BIT_GENERATORS: dict[str, Callable[[], np.random.BitGenerator]] = {
    "PCG64": np.random.PCG64, "PCG64DXSM": np.random.PCG64DXSM,
    "MT19937": np.random.MT19937, "Philox": np.random.Philox, "SFC64": np.random.SFC64}


def _rng_state(generator: Any) -> dict[str, Any] | None:
    if generator is None:
        return None
    if not isinstance(generator, np.random.Generator):
        raise TypeError(f"an env's np_random is a {type(generator).__name__}, not a numpy "
                        f"Generator")
    return dict(generator.bit_generator.state)


def _generator(state: Any) -> np.random.Generator | None:
    """A numpy Generator in the saved state (None stays None: not drawn from yet)."""
    if state is None:
        return None
    name = state.get("bit_generator") if isinstance(state, dict) else None
    if name not in BIT_GENERATORS:
        raise EnvStateError(f"a random generator's state is damaged (bit generator "
                            f"{name!r})")
    bits = BIT_GENERATORS[name]()
    try:
        bits.state = state
    except (TypeError, ValueError, KeyError, OverflowError) as exc:
        raise EnvStateError(f"a random generator's state is damaged ({exc})") from None
    return np.random.Generator(bits)


# ---- what a pickle of an env may build --------------------------------------------------------
REFUSED_WRAPPER_MODULES = ("gymnasium.wrappers.rendering", "gymnasium.utils.play",
                           "gymnasium.utils.save_video")


def env_classes(env: Any) -> list[type]:
    """The classes a freshly made `env` is made of (its wrappers, the env, their spaces
    and specs): what the restricted unpickler may build for a pickle of it. Wrappers that
    write files or open windows are left out, so a pickle naming one is refused."""
    found: set[type] = {EnvSpec, WrapperSpec}
    layers = [*wrappers(env), env.unwrapped]
    for layer in layers:
        found.add(type(layer))
        for space in (getattr(layer, "_action_space", None) or layer.action_space,
                      getattr(layer, "_observation_space", None) or layer.observation_space):
            found.update(_space_classes(space))
    return [cls for cls in found if not cls.__module__.startswith(REFUSED_WRAPPER_MODULES)]


def _space_classes(space: Any) -> Iterator[type]:
    yield type(space)
    inner = getattr(space, "spaces", None)  # Dict, Tuple
    if isinstance(inner, dict):
        inner = list(inner.values())
    for sub in inner or ():
        if isinstance(sub, gym.Space):
            yield from _space_classes(sub)
    for name in ("feature_space", "node_space", "edge_space"):  # Sequence, Graph
        sub = getattr(space, name, None)
        if isinstance(sub, gym.Space):
            yield from _space_classes(sub)
