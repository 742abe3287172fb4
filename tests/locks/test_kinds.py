"""The lock-kind registry: names to classes, the old import paths, one-line registration."""

from __future__ import annotations

import pytest

import structures
import structures.base
import structures.locks
from structures import make_index
from structures.locks import DEFAULT_LOCK, LOCK_KINDS, LockBase, RangeListLock, RangeLock, RWSemaphore, make_lock


def test_every_kind_builds_by_name() -> None:
    assert {"rwsem": RWSemaphore, "range": RangeLock, "range-list": RangeListLock} == LOCK_KINDS
    for name, kind in LOCK_KINDS.items():
        lock = make_lock(name)
        assert type(lock) is kind and isinstance(lock, LockBase)
    assert DEFAULT_LOCK in LOCK_KINDS and type(make_lock()) is LOCK_KINDS[DEFAULT_LOCK]


def test_old_import_paths_are_the_same_objects() -> None:
    assert structures.base.make_lock is make_lock is structures.make_lock
    assert structures.base.LOCK_KINDS is LOCK_KINDS
    assert structures.base.DEFAULT_LOCK == DEFAULT_LOCK
    from structures.base import LOCK_KINDS as old_kinds
    from structures.base import make_lock as old_make_lock

    assert old_kinds is LOCK_KINDS and old_make_lock is make_lock


def test_unknown_names_and_objects_without_the_api_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown lock kind 'nope'; known: range, range-list, rwsem"):
        make_lock("nope")
    with pytest.raises(TypeError, match="lacks write"):
        make_lock(type("ReadOnly", (), {"read": None})())
    lock = RWSemaphore()
    assert make_lock(lock) is lock


def test_a_new_kind_is_one_registration(monkeypatch: pytest.MonkeyPatch) -> None:
    class SkipListLock(RangeListLock):  # stands in for a kind yet to come
        pass

    monkeypatch.setitem(LOCK_KINDS, "range-skiplist", SkipListLock)
    assert type(make_lock("range-skiplist")) is SkipListLock
    assert type(make_index("list", lock="range-skiplist").lock) is SkipListLock


def test_range_list_is_exported_everywhere_a_kind_is() -> None:
    assert structures.RangeListLock is RangeListLock is structures.locks.RangeListLock
    assert type(structures.make_lock("range-list")) is RangeListLock
    assert type(make_index("list", lock="range-list").lock) is RangeListLock
