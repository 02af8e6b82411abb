"""Where node types come from: built-in names, `package.module:Class` paths, entry points.

Built-in nodes live in the modules of `rlgraph.nodes` and register themselves with the
`register` decorator when imported; the package's EXPORTS table (name -> module) lets a
name be resolved by importing its one module, so checking a graph imports only the node
modules it uses. Third-party packages declare entry points in the
group `rlgraph.nodes` (name -> "pkg.module:Class"). The same name registered twice is
an error, never a silent override.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import pkgutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from .node import Node

ENTRY_POINT_GROUP = "rlgraph.nodes"
BUILTIN_PACKAGE = "rlgraph.nodes"

N = TypeVar("N", bound=type[Node])


class RegistryError(Exception):
    """A node type that cannot be found, imported or registered."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class Registry:
    """Node types by name; built-ins and entry points are loaded on first use."""

    def __init__(self, builtin_package: str | None = BUILTIN_PACKAGE,
                 entry_point_group: str | None = ENTRY_POINT_GROUP) -> None:
        self._types: dict[str, type[Node]] = {}
        self._origin: dict[str, str] = {}
        self._builtin_package = builtin_package
        self._entry_point_group = entry_point_group
        self._loaded = False
        self._scanned = False  # entry points listed (their code is imported on use)
        self._entry_points: dict[str, importlib.metadata.EntryPoint] = {}
        self._modules: dict[str, str] | None = None  # built-in name -> module

    def add(self, cls: type[Node], name: str | None = None, origin: str | None = None) -> None:
        """Register a node class under a name (its class name by default)."""
        if not (isinstance(cls, type) and issubclass(cls, Node)):
            raise RegistryError(f"{cls!r} is not a subclass of rlgraph Node")
        name = name or cls.__name__
        origin = origin or f"{cls.__module__}:{cls.__qualname__}"
        if name in self._types and self._types[name] is not cls:
            raise RegistryError(
                f"node type '{name}' registered twice: by {self._origin[name]} and by {origin}",
                hint="rename one of them (register(name=...) or the entry point name)")
        self._types[name] = cls
        self._origin[name] = origin

    def names(self) -> list[str]:
        self._load()
        return sorted(set(self._types) | set(self._entry_points))

    def origin(self, name: str) -> str:
        self._load()
        return self._origin.get(name) or str(self._entry_points[name].value)

    def resolve(self, type_name: str, base_dir: Path | None = None) -> type[Node]:
        """The node class for a registered name or a `module:Class` import path."""
        if ":" in type_name:
            return import_node_class(type_name, base_dir)
        self._import_builtin(type_name)
        self._scan_entry_points()
        if type_name not in self._types and type_name not in self._entry_points:
            self._load()  # every built-in, for the list of names and the did-you-mean
        if type_name in self._types:
            return self._types[type_name]
        if type_name in self._entry_points:
            return self._load_entry_point(type_name)
        from .errors import choices_hint, shown
        raise RegistryError(
            f"unknown node type {shown(type_name)}",
            hint=choices_hint(type_name, self.names(), "node types")
            + " (run `rlgraph nodes` for the list; custom nodes are named 'module:Class')")

    def _builtin_modules(self) -> dict[str, str]:
        """Built-in name -> its module, from the package's EXPORTS table."""
        if self._modules is None:
            self._modules = {}
            if self._builtin_package:
                package = importlib.import_module(self._builtin_package)
                self._modules = dict(getattr(package, "EXPORTS", {}))
        return self._modules

    def _import_builtin(self, name: str) -> None:
        """Import the one built-in module that defines `name` (it registers itself)."""
        module = self._builtin_modules().get(name)
        if module is not None and name not in self._types:
            importlib.import_module(f"{self._builtin_package}.{module}")

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        if self._builtin_package:
            package = importlib.import_module(self._builtin_package)
            for info in pkgutil.iter_modules(package.__path__):
                importlib.import_module(f"{self._builtin_package}.{info.name}")
        self._scan_entry_points()

    def _scan_entry_points(self) -> None:
        """List the entry points (no plugin code runs); a name a built-in or another
        entry point has already is an error."""
        if self._scanned or not self._entry_point_group:
            return
        self._scanned = True
        builtins = self._builtin_modules()
        for ep in importlib.metadata.entry_points(group=self._entry_point_group):
            if ep.name in self._types or ep.name in self._entry_points \
                    or ep.name in builtins:
                first = self._origin.get(ep.name) or (
                    f"{self._builtin_package}.{builtins[ep.name]}" if ep.name in builtins
                    else self._entry_points[ep.name].value)
                raise RegistryError(
                    f"node type '{ep.name}' registered twice: by {first} and by entry "
                    f"point {ep.value}", hint="rename the entry point")
            self._entry_points[ep.name] = ep

    def _load_entry_point(self, name: str) -> type[Node]:
        ep = self._entry_points[name]
        try:
            cls = ep.load()
        except Exception as exc:  # the plugin's own import error, reported as is
            raise RegistryError(f"entry point '{name}' ({ep.value}) failed to load: "
                                f"{type(exc).__name__}: {exc}") from exc
        if not (isinstance(cls, type) and issubclass(cls, Node)):
            raise RegistryError(f"entry point '{name}' ({ep.value}) is not an rlgraph Node")
        self._types[name] = cls
        self._origin[name] = f"entry point {ep.value}"
        return cls


def import_node_class(path: str, base_dir: Path | None = None) -> type[Node]:
    """Import `package.module:Class`, looking in `base_dir` (the YAML's folder) too."""
    module_name, _, attr = path.partition(":")
    if not module_name or not attr:
        raise RegistryError(f"'{path}' is not a valid import path",
                            hint="write it as 'package.module:ClassName'")
    added = False
    if base_dir is not None and str(base_dir) not in sys.path:
        sys.path.insert(0, str(base_dir))
        added = True
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        raise RegistryError(
            f"cannot import module '{module_name}' for node type '{path}': "
            f"{type(exc).__name__}: {exc}",
            hint="check the module name; it is looked up beside the YAML file and on sys.path"
        ) from exc
    finally:
        if added:
            sys.path.remove(str(base_dir))
    cls = module
    for part in attr.split("."):
        if not hasattr(cls, part):
            from .errors import choices_hint
            names = [n for n, v in vars(module).items()
                     if isinstance(v, type) and issubclass(v, Node)]
            raise RegistryError(f"module '{module_name}' has no attribute '{attr}'",
                                hint=choices_hint(attr, names, "node classes in it"))
        cls = getattr(cls, part)
    if not (isinstance(cls, type) and issubclass(cls, Node)):
        raise RegistryError(f"'{path}' is not an rlgraph node class (got {cls!r})",
                            hint="subclass rlgraph.Node and declare inputs, outputs, params")
    return cls


#: The process-wide registry used by the CLI and by `build`.
REGISTRY = Registry()


def register(cls: N | None = None, *, name: str | None = None) -> N | Callable[[N], N]:
    """Class decorator: `@register` or `@register(name="Alias")` adds a built-in node."""
    def deco(c: N) -> N:
        REGISTRY.add(c, name)
        return c
    return deco(cls) if cls is not None else deco
