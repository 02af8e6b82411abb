"""The one way rlgraph unpickles bytes: a restricted unpickler with an exact allow-list.

`pickle.loads` of a file can run any code the file names. Checkpoints keep environments
as data where the env family has a state adapter (`envstate`); the rest are pickles,
and every one of them is read here, whatever its protocol, by `safe_loads`:

- a class or function is resolved only if its exact (module, name) pair is allowed:
  the classes the caller passes (GymEnv passes those its freshly made env is made of),
  numpy's array, dtype, scalar and random-generator reconstructors, and a few inert
  builtins. Nothing is imported: modules named by the file are looked up among those
  already loaded, and a module prefix allows nothing;
- no constructor runs: a class is only ever made with `__new__` (protocol 2+'s
  NEWOBJ), a call (REDUCE) may call only the allowed functions, never a class, and with
  no class or function among its arguments but numpy's bit generators; protocol 0/1
  instantiation (INST, OBJ), extension codes and persistent ids are refused;
- classes whose `__setstate__` calls their constructor (gymnasium's EzPickle: MuJoCo,
  Box2D) are never allowed: restoring them would run the constructor with arguments
  from the file.

Anything else raises UnsafePickle naming what the file asked for, before it is built.
"""

from __future__ import annotations

import functools
import importlib
import io
import pickle
import warnings
from collections import OrderedDict, deque
from collections.abc import Iterable
from typing import Any

#: numpy functions a pickle of arrays, scalars, dtypes and random generators calls
NUMPY_CALLABLES = (
    ("numpy._core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "scalar"),
    ("numpy.core.multiarray", "_reconstruct"), ("numpy.core.multiarray", "scalar"),
    ("numpy._core.numeric", "_frombuffer"), ("numpy.core.numeric", "_frombuffer"),
    ("numpy.random._pickle", "__bit_generator_ctor"),
    ("numpy.random._pickle", "__generator_ctor"),
    ("numpy.random._pickle", "__randomstate_ctor"),
    ("numpy.random.bit_generator", "__pyx_unpickle_SeedSequence"),
)
#: numpy classes such pickles name (made with __new__ or passed to the functions above)
NUMPY_CLASSES = (
    ("numpy", "dtype"), ("numpy", "ndarray"),
    ("numpy.random.bit_generator", "SeedSequence"),
    ("numpy.random._pcg64", "PCG64"), ("numpy.random._pcg64", "PCG64DXSM"),
    ("numpy.random._mt19937", "MT19937"), ("numpy.random._philox", "Philox"),
    ("numpy.random._sfc64", "SFC64"), ("numpy.random.mtrand", "RandomState"),
    ("numpy.random._generator", "Generator"),
)
#: classes a call may receive as an argument: the bit generators numpy's constructors
#: take, the array type `_reconstruct` takes, the SeedSequence Cython unpickles
ARGUMENT_CLASSES = {"PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64", "ndarray",
                    "SeedSequence", "dtype"}
BUILTIN_CALLABLES: dict[tuple[str, str], Any] = {
    ("builtins", "set"): set, ("builtins", "frozenset"): frozenset,
    ("builtins", "complex"): complex, ("builtins", "slice"): slice,
    ("collections", "OrderedDict"): OrderedDict, ("collections", "deque"): deque,
}
#: numpy 2 writes numpy._core.X where numpy 1 wrote numpy.core.X; each name resolves to
#: whichever module this numpy has
NUMPY_CORE = ("numpy._core.", "numpy.core.")


class UnsafePickle(Exception):
    """The pickle names code outside the allowed classes, or is not a pickle."""


@functools.cache
def _numpy_table() -> tuple[dict[tuple[str, str], Any], dict[tuple[str, str], type]]:
    """numpy's reconstructors and classes by (module, name): modules rlgraph names, never
    the file."""
    functions: dict[tuple[str, str], Any] = {}
    classes: dict[tuple[str, str], type] = {}
    for table, pairs in ((functions, NUMPY_CALLABLES), (classes, NUMPY_CLASSES)):
        for module, name in pairs:
            found = _numpy_attribute(_core_aliases(module), name)
            if found is not None:
                table[(module, name)] = found
    return functions, classes


def _core_aliases(module: str) -> tuple[str, ...]:
    for prefix in NUMPY_CORE:
        if module.startswith(prefix):
            rest = module.removeprefix(prefix)
            return tuple(p + rest for p in NUMPY_CORE)
    return (module,)


def _numpy_attribute(modules: tuple[str, ...], name: str) -> Any:
    with warnings.catch_warnings():  # numpy 2 deprecates the name numpy.core
        warnings.simplefilter("ignore")
        for module in modules:
            try:
                return getattr(importlib.import_module(module), name)
            except (ImportError, AttributeError):  # not in this numpy: not allowed
                continue
    return None


def class_key(cls: type) -> tuple[str, str]:
    """How a pickle names a class: its module and qualified name."""
    return cls.__module__, cls.__qualname__


def constructs_on_load(cls: type) -> bool:
    """Whether unpickling `cls` would call its constructor (gymnasium's EzPickle)."""
    return any(base.__name__ == "EzPickle" and base.__module__.startswith("gymnasium.")
               for base in cls.__mro__)


# The pure-Python unpickler: unlike the C one, its opcodes can be checked one by one (an
# env pickle is a few KB; reading it this way costs well under a millisecond).
_PyUnpickler: Any = pickle._Unpickler


class _Restricted(_PyUnpickler):
    def __init__(self, data: bytes, classes: dict[tuple[str, str], type]) -> None:
        super().__init__(io.BytesIO(data))
        self.functions, numpy_classes = _numpy_table()
        self.classes = {**numpy_classes, **classes}
        # numpy.dtype('f8', False, True) is how a pickle spells a dtype: the one class
        # that is called, with strings and flags
        self.allowed_calls = {id(f) for f in (*self.functions.values(),
                                              *BUILTIN_CALLABLES.values(),
                                              numpy_classes.get(("numpy", "dtype")))}

    def find_class(self, module: str, name: str) -> Any:
        key = (module, name)
        found = self.classes.get(key) or self.functions.get(key) or BUILTIN_CALLABLES.get(key)
        if found is None:
            raise UnsafePickle(f"it names {module}.{name}, which is not one of the classes "
                               f"this environment is made of")
        return found

    def _check_arguments(self, args: Any, what: str) -> None:
        for arg in args if isinstance(args, (tuple, list)) else (args,):
            if isinstance(arg, (tuple, list)):
                self._check_arguments(arg, what)
            elif isinstance(arg, dict):
                self._check_arguments(list(arg.values()), what)
            elif callable(arg) and not (isinstance(arg, type)
                                        and arg.__name__ in ARGUMENT_CLASSES
                                        and self.classes.get(class_key(arg)) is arg):
                raise UnsafePickle(f"it passes {_name(arg)} to {what}")

    def load_reduce(self) -> None:
        args, func = self.stack[-1], self.stack[-2]
        if id(func) not in self.allowed_calls:
            raise UnsafePickle(f"it calls {_name(func)}; a checkpoint's pickle may only "
                               f"make objects, never call their constructors")
        self._check_arguments(args, _name(func))
        super().load_reduce()

    def load_newobj(self) -> None:
        self._check_new(self.stack[-2], self.stack[-1])
        super().load_newobj()

    def load_newobj_ex(self) -> None:
        self._check_new(self.stack[-3], (self.stack[-2], self.stack[-1]))
        super().load_newobj_ex()

    def _check_new(self, cls: Any, args: Any) -> None:
        if not isinstance(cls, type) or self.classes.get(class_key(cls)) is not cls:
            raise UnsafePickle(f"it makes a {_name(cls)}")
        self._check_arguments(args, _name(cls))

    def _instantiate(self, klass: Any, args: Any) -> None:
        raise UnsafePickle(f"it instantiates {_name(klass)} the protocol 0/1 way (INST/OBJ), "
                           f"which runs constructors")

    def load_build(self) -> None:
        inst = self.stack[-2]
        if isinstance(inst, type) or callable(inst):
            raise UnsafePickle(f"it sets the state of {_name(inst)}")
        super().load_build()

    def get_extension(self, code: int) -> None:
        raise UnsafePickle(f"it uses the extension code {code}")

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafePickle("it refers to a persistent id")


# the opcode table of the Python unpickler, pointing at the checked methods above
_Restricted.dispatch = dict(_PyUnpickler.dispatch)
for _opcode, _method in ((pickle.REDUCE, _Restricted.load_reduce),
                         (pickle.NEWOBJ, _Restricted.load_newobj),
                         (pickle.NEWOBJ_EX, _Restricted.load_newobj_ex),
                         (pickle.BUILD, _Restricted.load_build)):
    _Restricted.dispatch[_opcode[0]] = _method


def _name(obj: Any) -> str:
    if isinstance(obj, type) or callable(obj):
        return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', obj)}"
    return f"a {type(obj).__module__}.{type(obj).__qualname__}"


def safe_loads(data: bytes, classes: Iterable[type] = ()) -> Any:
    """Unpickle `data` allowing only `classes` (by exact module and qualified name) and
    numpy's arrays, scalars and random generators; UnsafePickle if it names anything
    else, would run a constructor, or is not a pickle at all."""
    if not isinstance(data, (bytes, bytearray)):
        raise UnsafePickle(f"expected pickled bytes, got {type(data).__name__}")
    allowed = {}
    for cls in classes:
        if constructs_on_load(cls):
            raise UnsafePickle(f"{_name(cls)} calls its constructor when unpickled "
                               f"(gymnasium EzPickle), with arguments from the file")
        allowed[class_key(cls)] = cls
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return _Restricted(bytes(data), allowed).load()
    except UnsafePickle:
        raise
    except RecursionError:
        raise UnsafePickle("not a readable pickle (nested too deeply)") from None
    except Exception as exc:
        raise UnsafePickle(f"not a readable pickle ({type(exc).__name__}: {exc})") from None
