"""Typed results: what the summaries return, read back from their JSON key for key and in
order, and the registry of run kinds that show, runs, report and board dispatch through."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import strategies as st

from rigbench.errors import UsageError
from rigbench.kinds import get_kind, kind_names
from rigbench.results import (
    CompareDepth,
    CompareResult,
    DepthPoint,
    LabRow,
    LoadLevel,
    LoadResult,
    QualityResult,
    RunResult,
    RunRow,
    SessionResult,
    TuneTrial,
    Verdict,
)
from rigbench.testing.fake_server import FakeServer, Script


@pytest.fixture(scope="module")
def measured(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A run and a compare measured against the fake server, as the CLI's --json wrote them."""
    from rigbench.cli import main

    db = str(tmp_path_factory.mktemp("res") / "r.db")
    out: dict[str, Any] = {"db": db}
    with FakeServer(Script(tokens=16, rate_tok_s=800, props=True, timings=True)) as fake:
        for name, args in (("run", ["run", "--url", fake.base_url, "--depths", "0,256,512", "--repeats", "2",
                                    "--gen-tokens", "16", "--no-quality"]),
                           ("compare", ["compare", fake.base_url, fake.base_url.replace("127.0.0.1", "localhost"),
                                        "--depths", "0,256", "--repeats", "2", "--gen-tokens", "16"])):
            import contextlib
            import io

            buf = io.StringIO()
            with contextlib.redirect_stdout(buf):
                assert main([*args, "--json", "--db", db]) == 0
            out[name] = buf.getvalue()
    return out


@pytest.mark.parametrize(("name", "cls"), [("run", RunResult), ("compare", CompareResult)])
def test_json_reads_back_key_for_key_and_in_order(measured: dict[str, Any], name: str, cls: Any) -> None:
    text = measured[name]
    data = json.loads(text)
    back = cls.from_json(data)
    assert back.to_json() == data
    assert json.dumps(back.to_json(), indent=2, default=str) + "\n" == text  # the same bytes, key order too


def test_show_json_is_the_run_json_and_the_result_is_typed(measured: dict[str, Any], cli: Any) -> None:
    data = json.loads(measured["run"])
    r = cli("show", str(data["run_id"]), "--json", "--db", measured["db"])
    assert r.code == 0 and json.loads(r.out) == data
    res = RunResult.from_json(data)
    assert all(isinstance(p, DepthPoint) for p in res.points) and [p.depth for p in res.points] == [0, 256, 512]
    assert isinstance(res.verdict, Verdict) and res.verdict.cls == data["verdict"]["class"]
    assert res.point_at(res.verdict.at_depth) is not None


def test_the_summaries_return_typed_results(measured: dict[str, Any]) -> None:
    from rigbench.jobs.compare import compare_summary
    from rigbench.jobs.summary import run_summary
    from rigbench.store import open_store

    store = open_store(measured["db"])
    try:
        run = run_summary(store, json.loads(measured["run"])["run_id"])
        cmp = compare_summary(store, json.loads(measured["compare"])["compare_id"])
    finally:
        store.close()
    assert isinstance(run, RunResult) and isinstance(cmp, CompareResult)
    # each side judged alone (the board's and the report's rows): carried, never written to --json
    assert cmp.a.verdict is not None and cmp.a.verdict.cls in ("interactive", "background")
    assert "verdict" not in cmp.to_json()["a"]
    assert cmp.to_json() == json.loads(measured["compare"])


def test_an_undeclared_key_passes_through_and_an_absent_optional_one_stays_absent() -> None:
    q = {"suite": "default", "suite_version": "1.1", "score": 3.2, "ci": [3.0, 3.4], "repeats": 3, "prompts": 28,
         "categories": {"code": 3.0}, "category_ci": {"code": None}, "mode": "chat", "wall_s": 12.5}
    back = QualityResult.from_json(q)
    assert back.more == {"mode": "chat", "wall_s": 12.5} and back.to_json() == q
    assert list(back.to_json()) == list(q)
    bare = RunResult.from_json({"run_id": 3, "status": "failed"}).to_json()
    assert "quality" not in bare and "session" not in bare and bare["points"] == []


def test_results_are_frozen() -> None:
    import dataclasses

    r = RunResult.from_json({"run_id": 3, "status": "complete"})
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.status = "failed"  # type: ignore[misc]


def test_a_kind_the_registry_does_not_know_lists_the_ones_it_does(cli: Any, tmp_path: Path) -> None:
    assert kind_names() == ["run", "session", "compare", "tune", "lab", "load"]
    with pytest.raises(UsageError) as e:
        get_kind("bogus")
    assert "run, session, compare, tune, lab, load" in (e.value.hint or "")
    r = cli("runs", "--kind", "bogus", "--db", str(tmp_path / "r.db"))
    assert r.code == 2 and "unknown run kind 'bogus'" in r.err and "run, session, compare, tune, lab, load" in r.err
    assert len(r.err.strip().splitlines()) == 1


def test_a_session_is_its_own_kind_stored_as_a_run() -> None:
    from rigbench.kinds import kind_of

    assert kind_of({"kind": "run", "params": {"session": "agent"}}).name == "session"
    assert kind_of({"kind": "run", "params": {"depths_requested": [0]}}).name == "run"
    assert kind_of({"kind": "lab", "params": {}}).name == "lab"
    assert kind_of({"kind": "load", "params": {}}).name == "load"
    with pytest.raises(UsageError, match="unknown run kind 'bogus'"):
        kind_of({"kind": "bogus", "params": {}})


def test_show_dispatches_by_kind(measured: dict[str, Any], cli: Any) -> None:
    cmp_id = json.loads(measured["compare"])["compare_id"]
    r = cli("show", str(cmp_id), "--db", measured["db"])
    assert r.code == 0 and f"rigbench compare {cmp_id}" in r.out
    r = cli("show", "999", "--db", measured["db"])
    assert r.code == 2 and "there is no run 999" in r.err


# -- from_json / to_json round trips over every result type ------------------------------------
_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
                     lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                                 max_size=3), max_leaves=8)


def _strategy(tp: Any) -> st.SearchStrategy[Any]:
    """JSON for a declared type: a nested result as its own JSON, lists and dicts of them too."""
    import typing

    from rigbench.results._base import Result

    if isinstance(tp, type) and issubclass(tp, Result):
        return _json_of(tp)
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, __import__("types").UnionType):
        return st.one_of(*[st.none() if a is type(None) else _strategy(a) for a in args])
    if origin is list and args and isinstance(args[0], type) and issubclass(args[0], Result):
        return st.lists(_strategy(args[0]), max_size=2)
    if origin is dict and len(args) == 2 and _nests_a_result(args[1]):
        return st.dictionaries(st.text(max_size=4), _strategy(args[1]), max_size=2)
    return _JSON


def _nests_a_result(tp: Any) -> bool:
    import typing

    from rigbench.results._base import Result

    return any(isinstance(a, type) and issubclass(a, Result) for a in (tp, *typing.get_args(tp)))


def _json_of(cls: Any) -> st.SearchStrategy[dict[str, Any]]:
    """A JSON object of ``cls``'s shape: every declared key (an omit-when-None key absent or
    not None), undeclared keys besides."""
    import dataclasses
    import typing

    hints = typing.get_type_hints(cls)
    parts: list[st.SearchStrategy[dict[str, Any]]] = []
    declared: set[str] = set()
    for f in dataclasses.fields(cls):
        if f.metadata.get("more") or f.metadata.get("internal"):
            continue
        name = f.metadata.get("key") or f.name
        declared.add(name)
        value = _strategy(hints[f.name])
        if f.metadata.get("omit_none"):
            parts.append(st.dictionaries(st.just(name), value.filter(lambda v: v is not None), max_size=1))
        else:
            parts.append(st.fixed_dictionaries({name: value}))
    extra = st.dictionaries(st.text(min_size=1, max_size=6).filter(lambda k: k not in declared), _JSON, max_size=2)

    def merge(ds: tuple[dict[str, Any], ...]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for d in ds:
            out.update(d)
        return out

    return st.tuples(*parts, extra).map(merge)


@pytest.mark.parametrize("cls", [DepthPoint, Verdict, QualityResult, SessionResult, CompareDepth, LabRow, TuneTrial,
                                 LoadLevel, LoadResult, RunRow])
def test_any_json_of_a_results_shape_reads_back_unchanged(cls: Any) -> None:
    from hypothesis import HealthCheck, given, settings

    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                     HealthCheck.data_too_large])
    @given(_json_of(cls))
    def check(data: dict[str, Any]) -> None:
        back = cls.from_json(data)
        assert back.to_json() == data and list(back.to_json()) == list(data)

    check()
