"""Shared fixtures: the backend specs every contract test runs against.

``BACKEND_SPECS`` is built from the registry at collection time, so a backend
is covered by the contract suite the moment it registers.  Each spec is a
``(name, options)`` pair; ``tiny`` variants shrink node sizes so that splits,
merges and height changes happen after a handful of VMAs.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from structures import available_backends, available_frontends, make_index
from structures.base import VMAIndex

settings.register_profile(
    "ci", max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=False
)
settings.register_profile("dev", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("deep", max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))

#: node-size options that force deep trees at small sizes
TINY_OPTIONS: dict[str, dict[str, Any]] = {
    "maple": {"leaf_slots": 4, "internal_slots": 4},
    "xarray": {"chunk_shift": 2},
}
#: backends a front end is tested over (when registered)
FRONTEND_TARGETS = ("list", "rbtree", "maple", "xarray")


def _specs() -> list[tuple[str, dict[str, Any]]]:
    names = list(available_backends())
    specs: list[tuple[str, dict[str, Any]]] = [(n, {}) for n in names]
    for n, opts in TINY_OPTIONS.items():
        if n in names:
            specs.append((n, opts))
    for front in available_frontends():
        for target in FRONTEND_TARGETS:
            if target in names:
                specs.append((f"{front}+{target}", {}))
    return specs


BACKEND_SPECS = _specs()


def spec_id(spec: tuple[str, dict[str, Any]]) -> str:
    name, opts = spec
    return f"{name}[tiny]" if opts else name


@pytest.fixture(params=BACKEND_SPECS, ids=spec_id)
def spec(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def make(spec: tuple[str, dict[str, Any]]) -> Any:
    """A factory for fresh indexes of the parametrized backend."""
    name, opts = spec

    def factory(**extra: Any) -> VMAIndex:
        return make_index(name, **{**opts, **extra})

    return factory


@pytest.fixture
def idx(make: Any) -> VMAIndex:
    return make()  # type: ignore[no-any-return]
