"""Registry, config resolution, entry points and the ``list``/``check`` commands."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bench.checks.differential import differential_run
from bench.cli import main
from structures import VMA, UnknownBackendError, available_backends, make_index, register_backend
from structures import registry as reg
from structures.backends.list import ListIndex


@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory with no pyproject above it and no VMALAB_BACKEND."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("VMALAB_BACKEND", raising=False)
    return tmp_path


def test_builtin_default(isolated: Path) -> None:
    name, source = reg.resolve_backend_name()
    assert name == reg.BUILTIN_DEFAULT and source == "built-in default"
    assert make_index().name == reg.BUILTIN_DEFAULT


def test_env_var_selects_backend(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VMALAB_BACKEND", "bintrees")
    assert make_index().name == "bintrees"
    assert make_index("list").name == "list"  # explicit argument wins


def test_pyproject_selects_backend_and_options(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (isolated / "pyproject.toml").write_text(
        '[project]\nname = "user"\n\n[tool.vmalab]\nbackend = "sortedcontainers"\n\n'
        "[tool.vmalab.options.sortedcontainers]\nload = 64\n"
    )
    sub = isolated / "a" / "b"
    sub.mkdir(parents=True)
    monkeypatch.chdir(sub)  # nearest pyproject.toml is found from a subdirectory
    idx = make_index()
    assert idx.name == "sortedcontainers"
    assert idx._list._load == 64  # type: ignore[attr-defined]
    monkeypatch.setenv("VMALAB_BACKEND", "bintrees")  # env beats the file
    assert make_index().name == "bintrees"


def test_pyproject_without_table_is_skipped(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (isolated / "pyproject.toml").write_text('[tool.vmalab]\nbackend = "bintrees"\n')
    inner = isolated / "inner"
    inner.mkdir()
    (inner / "pyproject.toml").write_text('[project]\nname = "x"\n')
    monkeypatch.chdir(inner)
    assert make_index().name == "bintrees"


def test_unknown_names_list_the_known_ones(isolated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(UnknownBackendError) as info:
        make_index("btree-of-dreams")
    for known in ("list", "sortedcontainers", "bintrees"):
        assert known in str(info.value)
    monkeypatch.setenv("VMALAB_BACKEND", "nope")
    with pytest.raises(UnknownBackendError, match="nope"):
        make_index()
    with pytest.raises(UnknownBackendError, match="front end"):
        make_index("turbo+list")
    with pytest.raises(TypeError, match="rejected options"):
        make_index("list", fanout=3)


def test_frontend_spec_parses() -> None:
    if "vmacache" in reg.available_frontends():
        idx = make_index("vmacache+list")
        idx.insert(VMA(0, 4096))
        assert idx.lookup(0) == VMA(0, 4096)
    else:
        with pytest.raises(UnknownBackendError, match="unknown front end 'vmacache'"):
            make_index("vmacache+list")
    with pytest.raises(UnknownBackendError):
        make_index("vmacache+")


def test_bad_config_file_is_a_clear_error(isolated: Path) -> None:
    (isolated / "pyproject.toml").write_text("[tool.vmalab]\nbackend = 3\n")
    with pytest.raises(Exception, match="backend must be a string"):
        make_index()


class _BrokenGap(ListIndex):
    """A deliberately wrong backend: its top-down gap search is off by a page."""

    name = "broken-gap"
    description = "test double with a wrong find_gap"

    def _find_gap(self, length: int, low: int, high: int, top_down: bool) -> int | None:
        got = super()._find_gap(length, low, high, top_down)
        return got - 4096 if top_down and got else got


@pytest.fixture
def broken() -> Any:
    register_backend("broken-gap", _BrokenGap)
    yield "broken-gap"
    reg.unregister_backend("broken-gap")


def test_runtime_registration(broken: str) -> None:
    assert broken in available_backends()
    assert available_backends()[broken] == "test double with a wrong find_gap"
    with pytest.raises(ValueError, match="already registered"):
        register_backend(broken, _BrokenGap)


def test_differential_run_catches_a_broken_backend(broken: str) -> None:
    res = differential_run(broken, ops=400, seed=1)
    assert not res.ok
    assert any("find_gap" in d for d in res.divergences)
    good = differential_run("sortedcontainers", ops=400, seed=1)
    assert good.ok and good.checks >= 4


def test_cli_check_exit_status(broken: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--backend", "bintrees", "--ops", "300"]) == 0
    assert main(["check", "--backend", broken, "--ops", "300"]) == 1
    out = capsys.readouterr().out
    assert "broken-gap" in out and "find_gap" in out
    assert main(["check", "--backend", "nope"]) == 2


def test_cli_list(capsys: pytest.CaptureFixture[str], isolated: Path) -> None:
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in available_backends():
        assert name in out
    assert "built-in default" in out


def test_entry_point_backends(monkeypatch: pytest.MonkeyPatch) -> None:
    class FakeEP:
        name = "ep-list"
        value = "structures.backends.list:ListIndex"

    monkeypatch.setattr(reg, "_loaded", False)
    monkeypatch.setattr(reg, "_backends", {})
    fake = [FakeEP()]
    monkeypatch.setattr(reg.metadata, "entry_points", lambda group: fake if group == reg.ENTRY_POINT_GROUP else [])
    assert "ep-list" in available_backends()
    assert isinstance(make_index("ep-list"), ListIndex)


def test_spec_options_in_brackets(isolated: Path) -> None:
    idx = make_index("sortedcontainers[load=50]")
    assert idx._list._load == 50  # type: ignore[attr-defined]
    assert make_index("vmacache+sortedcontainers[load=60]").inner._list._load == 60  # type: ignore[attr-defined]
    for bad in ("sortedcontainers[load=50", "sortedcontainers[50]", "[load=1]", "sortedcontainers[1x=2]"):
        with pytest.raises(UnknownBackendError, match="malformed"):
            make_index(bad)
    with pytest.raises(TypeError, match="rejected options"):
        make_index("list[fanout=3]")


def test_split_specs_keeps_bracketed_commas() -> None:
    from structures.registry import split_specs

    assert split_specs("list, maple[leaf_slots=8,internal_slots=4],vmacache+rbtree") == [
        "list",
        "maple[leaf_slots=8,internal_slots=4]",
        "vmacache+rbtree",
    ]
    assert split_specs(",,") == []
