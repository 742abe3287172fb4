"""Backend registry and configuration: ``make_index`` and friends.

Invariant
---------
A name in the registry is a real, complete ``VMAIndex`` implementation.  Names
resolve, in order: an explicit argument > the ``VMALAB_BACKEND`` environment
variable > ``[tool.vmalab] backend`` in the nearest ``pyproject.toml`` (from
the current directory upward) > the built-in default (``BUILTIN_DEFAULT``).

Layout
------
::

    spec  := backend ["[" key=value,... "]"] | frontend "+" spec
             e.g. "maple", "vmacache+rbtree", "maple[leaf_slots=32]"
    _BUILTIN   name -> "module:Class"             (imported on first use)
    _FRONTENDS name -> "module:Class"             (wrap another index)
    entry points, group "vmalab.backends"         name -> VMAIndex subclass or factory

Options come from ``[tool.vmalab.options.<name>]`` and are overridden by the
keyword arguments of ``make_index``.  For a front-end spec, keyword arguments
the front end's constructor accepts go to it, the rest to the inner backend;
``lock`` always goes to the outermost index (the one callers lock).

API
---
``make_index(name=None, **options)``, ``index_factory(name=None, **options)``,
``available_backends()``,
``available_frontends()``, ``resolve_backend_name(name=None)``,
``register_backend(name, factory, description="")``, ``load_config(start=None)``,
``UnknownBackendError``, ``BackendOptionError``, ``BUILTIN_DEFAULT``.

A misspelled option (in a spec, a keyword argument or ``[tool.vmalab.options.<name>]``)
is a ``BackendOptionError`` naming the key, where it was set, the closest option and
the ones the backend takes; a configured name that is unknown says where it was
configured (environment variable or file).
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import os
import threading
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from structures.base import VMAIndex
from structures.vma import VMAError

__all__ = [
    "BUILTIN_DEFAULT",
    "ENV_VAR",
    "ENTRY_POINT_GROUP",
    "UnknownBackendError",
    "BackendOptionError",
    "Config",
    "make_index",
    "index_factory",
    "split_specs",
    "available_backends",
    "available_frontends",
    "resolve_backend_name",
    "register_backend",
    "load_config",
]

BUILTIN_DEFAULT = "maple"
ENV_VAR = "VMALAB_BACKEND"
ENTRY_POINT_GROUP = "vmalab.backends"

#: Built-in backends: registry name -> "module:Class".
_BUILTIN: dict[str, str] = {
    "list": "structures.backends.list:ListIndex",
    "maple": "structures.backends.maple.index:MapleIndex",
    "sortedcontainers": "structures.backends.peers:SortedContainersIndex",
    "bintrees": "structures.backends.peers:BintreesIndex",
    "xarray": "structures.backends.xarray.index:XArrayIndex",
    "rbtree": "structures.backends.rbtree:RBTreeIndex",
}
#: Front ends that wrap another index: name -> "module:Class".
_FRONTENDS: dict[str, str] = {
    "vmacache": "structures.backends.vmacache:VMACacheIndex",
}

Factory = Callable[..., VMAIndex]


class UnknownBackendError(VMAError, ValueError):
    """A backend or front-end name that is not registered (lists the known ones)."""


class BackendOptionError(UnknownBackendError, TypeError):
    """An option the backend does not take, or a value it rejects (names the key and where it was set)."""


@dataclass
class _Entry:
    factory: Factory | None
    target: str | None
    description: str = ""

    def load(self) -> Factory:
        if self.factory is None:
            assert self.target is not None
            module, _, attr = self.target.partition(":")
            self.factory = getattr(importlib.import_module(module), attr)
        return self.factory


_lock = threading.Lock()
_backends: dict[str, _Entry] = {}
_frontends: dict[str, _Entry] = {}
_loaded = False


def _ensure_loaded() -> None:
    global _loaded
    if _loaded:
        return
    with _lock:
        if _loaded:
            return
        for name, target in _BUILTIN.items():
            _backends.setdefault(name, _Entry(None, target))
        for name, target in _FRONTENDS.items():
            _frontends.setdefault(name, _Entry(None, target))
        try:
            eps = metadata.entry_points(group=ENTRY_POINT_GROUP)
        except Exception:  # pragma: no cover - broken metadata must not break the lab
            eps = ()  # type: ignore[assignment]
        for ep in eps:
            if ep.name not in _backends:
                _backends[ep.name] = _Entry(None, ep.value)
        _loaded = True


def register_backend(name: str, factory: Factory, description: str = "", *, replace: bool = False) -> None:
    """Register a backend factory (a ``VMAIndex`` subclass or a callable returning one)."""
    if not isinstance(name, str) or not name or "+" in name:
        raise ValueError(f"backend name must be a non-empty str without '+', got {name!r}")
    _ensure_loaded()
    with _lock:
        if name in _backends and not replace:
            raise ValueError(f"backend {name!r} is already registered")
        _backends[name] = _Entry(factory, None, description)


def unregister_backend(name: str) -> None:
    """Remove a backend registered with ``register_backend`` (tests use this)."""
    _ensure_loaded()
    with _lock:
        if name not in _backends:
            raise UnknownBackendError(f"unknown backend {name!r}")
        del _backends[name]


def _describe(entry: _Entry) -> str:
    if entry.description:
        return entry.description
    try:
        factory = entry.load()
    except Exception as exc:  # an entry point that fails to import still lists, with why
        return f"(failed to load: {exc})"
    desc = getattr(factory, "description", "") or ""
    if not desc:
        doc = inspect.getdoc(factory) or ""
        desc = doc.strip().splitlines()[0] if doc.strip() else ""
    return desc


def available_backends() -> dict[str, str]:
    """Registered backend names -> one-line descriptions (front ends excluded)."""
    _ensure_loaded()
    return {name: _describe(e) for name, e in _backends.items()}


def available_frontends() -> dict[str, str]:
    """Registered front-end names -> one-line descriptions."""
    _ensure_loaded()
    return {name: _describe(e) for name, e in _frontends.items()}


# ----------------------------------------------------------------------
# configuration
# ----------------------------------------------------------------------
@dataclass
class Config:
    """The ``[tool.vmalab]`` table of the nearest ``pyproject.toml`` that has one."""

    path: Path | None = None
    backend: str | None = None
    options: dict[str, dict[str, Any]] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)


def load_config(start: str | os.PathLike[str] | None = None) -> Config:
    """Find the nearest ``pyproject.toml`` with a ``[tool.vmalab]`` table, from ``start`` up."""
    here = Path(start) if start is not None else Path.cwd()
    here = here.resolve()
    for directory in (here, *here.parents):
        candidate = directory / "pyproject.toml"
        if not candidate.is_file():
            continue
        try:
            with candidate.open("rb") as fh:
                data = tomllib.load(fh)
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise VMAError(f"cannot read {candidate}: {exc}") from exc
        table = data.get("tool", {}).get("vmalab")
        if table is None:
            continue
        backend = table.get("backend")
        if backend is not None and not isinstance(backend, str):
            raise VMAError(f"{candidate}: [tool.vmalab] backend must be a string, got {backend!r}")
        options = table.get("options", {})
        if not isinstance(options, dict) or not all(isinstance(v, dict) for v in options.values()):
            raise VMAError(f"{candidate}: [tool.vmalab.options.<name>] must be tables")
        return Config(candidate, backend, options, table)
    return Config()


def resolve_backend_name(name: str | None = None, *, config: Config | None = None) -> tuple[str, str]:
    """The backend spec to use and where it came from (argument/env/file/built-in)."""
    if name is not None:
        return name, "argument"
    env = os.environ.get(ENV_VAR)
    if env:
        return env, f"environment {ENV_VAR}"
    cfg = config if config is not None else load_config()
    if cfg.backend:
        return cfg.backend, f"[tool.vmalab] backend in {cfg.path}"
    return BUILTIN_DEFAULT, "built-in default"


def _unknown(kind: str, name: str, known: dict[str, _Entry]) -> UnknownBackendError:
    return UnknownBackendError(f"unknown {kind} {name!r}; known {kind}s: {', '.join(sorted(known)) or '(none)'}")


def _accepted_kwargs(factory: Factory) -> set[str] | None:
    """Keyword names a factory accepts, or None when it takes ``**kwargs``."""
    try:
        sig = inspect.signature(factory)
    except (TypeError, ValueError):
        return None
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in sig.parameters.values()):
        return None
    return {p.name for p in sig.parameters.values() if p.kind is not inspect.Parameter.POSITIONAL_ONLY}


def split_specs(text: str) -> list[str]:
    """Split a comma list of backend specs, keeping commas inside ``[...]``:
    ``"list,maple[leaf_slots=8,internal_slots=4]"`` -> ``["list", "maple[leaf_slots=8,internal_slots=4]"]``."""
    out: list[str] = []
    depth = 0
    cur: list[str] = []
    for ch in text:
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth = max(0, depth - 1)
        if ch == "," and depth == 0:
            out.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    out.append("".join(cur).strip())
    return [x for x in out if x]


def _option_value(text: str) -> Any:
    low = text.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    for conv in (int, float):
        try:
            return conv(text)
        except ValueError:
            pass
    return text.strip()


def _split_options(name: str) -> tuple[str, dict[str, Any]]:
    """``"maple[leaf_slots=32,internal_slots=8]"`` -> ``("maple", {...})`` (a spec with options,
    so benchmarks can sweep a backend's parameters from the command line)."""
    if "[" not in name:
        return name, {}
    base, _, rest = name.partition("[")
    if not rest.endswith("]") or not base:
        raise UnknownBackendError(f"malformed backend spec {name!r}; expected e.g. maple[leaf_slots=32]")
    opts: dict[str, Any] = {}
    for item in filter(None, (x.strip() for x in rest[:-1].split(","))):
        key, eq, value = item.partition("=")
        if not eq or not key.strip().isidentifier():
            raise UnknownBackendError(f"malformed option {item!r} in backend spec {name!r}; expected key=value")
        opts[key.strip()] = _option_value(value)
    return base, opts


def _build(spec: str, options: dict[str, Any], cfg: Config) -> VMAIndex:
    if not isinstance(spec, str) or not spec:
        raise UnknownBackendError(f"backend name must be a non-empty str, got {spec!r}")
    head, plus, rest = spec.partition("+")
    if plus:
        if head not in _frontends:
            raise _unknown("front end", head, _frontends)
        if not rest:
            raise UnknownBackendError(f"front end {head!r} needs a backend after '+', e.g. {head}+maple")
        factory = _frontends[head].load()
        accepted = _accepted_kwargs(factory) or set()
        mine = {**cfg.options.get(head, {})}
        inner_opts: dict[str, Any] = {}
        for key, value in options.items():
            if key in accepted:
                mine[key] = value
            else:
                inner_opts[key] = value
        inner = _build(rest, inner_opts, cfg)
        _check_options(f"front end {head!r}", factory, mine, {}, {}, cfg, head, skip=1)
        return _construct(f"front end {head!r}", factory, mine, inner)
    text = head
    head, spec_opts = _split_options(head)
    if head not in _backends:
        raise _unknown("backend", head, _backends)
    factory = _backends[head].load()
    merged = {**cfg.options.get(head, {}), **spec_opts, **options}
    _check_options(f"backend {head!r}", factory, merged, spec_opts, options, cfg, head, spec=text)
    return _construct(f"backend {head!r}", factory, merged)


def _check_options(
    what: str, factory: Factory, merged: dict[str, Any], spec_opts: dict[str, Any], kwargs: dict[str, Any],
    cfg: Config, head: str, *, skip: int = 0, spec: str = "",
) -> None:
    """Refuse, before building anything, an option the factory does not take: say where it was set."""
    try:
        params = list(inspect.signature(factory).parameters.values())[skip:]
    except (TypeError, ValueError):
        return
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return
    accepted = sorted(p.name for p in params if p.kind is not inspect.Parameter.POSITIONAL_ONLY)
    for key in merged:
        if key in accepted:
            continue
        if key in kwargs:
            where = f"keyword argument {key}="
        elif key in spec_opts:
            where = f"the spec {spec!r}"
        else:
            where = f"[tool.vmalab.options.{head}] {key} in {cfg.path}"
        close = difflib.get_close_matches(key, accepted, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise BackendOptionError(
            f"{what} rejected options: no option {key!r}{hint}, set by {where}; "
            f"its options: {', '.join(accepted) or '(none)'}"
        )


def _construct(what: str, factory: Factory, opts: dict[str, Any], *inner: VMAIndex) -> VMAIndex:
    try:
        return factory(*inner, **opts)
    except TypeError as exc:
        raise BackendOptionError(f"{what} rejected options {sorted(opts)}: {exc}") from exc


def index_factory(name: str | None = None, **options: Any) -> Callable[[], VMAIndex]:
    """A zero-argument builder of ``make_index(name, **options)`` with the configuration
    resolved once (benchmarks build indexes inside timed loops: no file I/O there)."""
    _ensure_loaded()
    cfg = load_config()
    spec, source = resolve_backend_name(name, config=cfg)
    _build_from(spec, source, dict(options), cfg)  # fail now, not in the loop, on a bad name or option
    return lambda: _build(spec, dict(options), cfg)


def _build_from(spec: str, source: str, options: dict[str, Any], cfg: Config) -> VMAIndex:
    """``_build``, with a configured name's error saying where it was configured."""
    try:
        return _build(spec, options, cfg)
    except UnknownBackendError as exc:
        if source == "argument":
            raise
        raise type(exc)(f"{exc} (the backend {spec!r} comes from {source})") from None


def make_index(name: str | None = None, **options: Any) -> VMAIndex:
    """Build an index: ``name`` is a backend spec (``"maple"``, ``"vmacache+rbtree"``) or
    ``None`` for the configured default; ``options`` go to the backend's constructor
    (``lock="rwsem"`` picks the baseline lock)."""
    _ensure_loaded()
    cfg = load_config()
    spec, source = resolve_backend_name(name, config=cfg)
    return _build_from(spec, source, options, cfg)
