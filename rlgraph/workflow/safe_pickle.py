"""A restricted unpickler for the environments inside checkpoints.

GymEnv saves its sub-environments with pickle, and `pickle.loads` of a file can run any
code the file names. Before such bytes reach a node, `check_pickle` unpickles them with
an unpickler that resolves only:

- gymnasium classes that are environments, wrappers, spaces or env specs (not the
  rendering/recording wrappers, which touch files and windows; no functions at all);
- classes of the environment's own registered module (its entry point);
- numpy's array, dtype, scalar and random-generator reconstructors (not numpy at large:
  `numpy.memmap` writes files, `numpy.testing` can exec strings);
- a few inert builtins (set, frozenset, complex, slice, OrderedDict, deque).

Modules outside those are never imported, dotted names are refused, and anything else
raises UnsafePickle naming what the file asked for.
"""

from __future__ import annotations

import importlib
import io
import pickle
from collections.abc import Iterable
from typing import Any

NUMPY_CALLABLES = {
    ("numpy", "dtype"), ("numpy", "ndarray"),
    ("numpy._core.multiarray", "_reconstruct"), ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "scalar"), ("numpy.core.multiarray", "scalar"),
    ("numpy.random._pickle", "__bit_generator_ctor"),
    ("numpy.random._pickle", "__generator_ctor"),
    ("numpy.random._pickle", "__randomstate_ctor"),
    ("numpy.random.bit_generator", "SeedSequence"),
    ("numpy.random.bit_generator", "__pyx_unpickle_SeedSequence"),
    ("numpy.random._pcg64", "PCG64"), ("numpy.random._pcg64", "PCG64DXSM"),
    ("numpy.random._mt19937", "MT19937"), ("numpy.random._philox", "Philox"),
    ("numpy.random._sfc64", "SFC64"), ("numpy.random.mtrand", "RandomState"),
    ("numpy.random._generator", "Generator"),
}
BUILTINS = {("builtins", "set"), ("builtins", "frozenset"), ("builtins", "complex"),
            ("builtins", "slice"), ("collections", "OrderedDict"), ("collections", "deque")}
REFUSED_GYM_MODULES = ("gymnasium.wrappers.rendering", "gymnasium.vector",
                       "gymnasium.utils.play", "gymnasium.utils.save_video")


class UnsafePickle(Exception):
    """The pickle names code outside the allowed environment classes."""


class _Restricted(pickle.Unpickler):
    def __init__(self, data: bytes, env_modules: Iterable[str]) -> None:
        super().__init__(io.BytesIO(data))
        self.env_modules = set(env_modules)

    def find_class(self, module: str, name: str) -> Any:
        if "." in name or (name.startswith("__") and (module, name) not in NUMPY_CALLABLES):
            raise UnsafePickle(f"it names {module}.{name}")
        if (module, name) in NUMPY_CALLABLES or (module, name) in BUILTINS:
            return super().find_class(module, name)
        if module in self.env_modules or _is_gym_module(module):
            obj = getattr(importlib.import_module(module), name, None)
            if isinstance(obj, type) and _is_env_class(obj):
                return obj
        raise UnsafePickle(f"it names {module}.{name}, which is not a gymnasium or numpy "
                           f"class an environment is made of")


def _is_gym_module(module: str) -> bool:
    return (module.startswith("gymnasium.")
            and not module.startswith(REFUSED_GYM_MODULES))


def _is_env_class(cls: type) -> bool:
    import gymnasium as gym
    from gymnasium.envs.registration import EnvSpec, WrapperSpec
    return issubclass(cls, (gym.Env, gym.Space, EnvSpec, WrapperSpec))


def check_pickle(data: bytes, env_modules: Iterable[str] = ()) -> Any:
    """Unpickle `data` with the restricted unpickler; UnsafePickle if it names other
    code or is not a pickle at all."""
    try:
        return _Restricted(data, env_modules).load()
    except UnsafePickle:
        raise
    except Exception as exc:
        raise UnsafePickle(f"not a readable pickle ({type(exc).__name__}: {exc})") from None
