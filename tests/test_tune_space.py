"""Search space parsing, validation, ordering; objectives and workloads (no engine)."""

from __future__ import annotations

import pytest

from rigbench.errors import UsageError
from rigbench.tune.objective import parse_objective, plan_workload, rep_scores, score
from rigbench.tune.space import Config, Space, combination_problem, parse_space


def test_parse_space_canonical_names_and_values() -> None:
    sp = parse_space(["threads=1,2", "ubatch-size=128,512,128", "flash-attn=1,off"])
    assert [(d.name, d.values) for d in sp.dims] == [("t", ("1", "2")), ("ub", ("128", "512")), ("fa", ("on", "off"))]
    assert sp.size == 8
    assert sp.max_ubatch() == 512
    assert len(sp.configs()) == 8


@pytest.mark.parametrize(("words", "needle"), [
    (["t=0,2"], "at least 1"),
    (["ub=abc"], "whole number"),
    (["bogus=1"], "unknown llama.cpp flag"),
    (["t="], "empty value"),
    (["t=1,,2"], "empty value"),
    (["t=1", "threads=2"], "twice"),
    (["t"], "not name=v1,v2"),
    (["fa=maybe"], "does not accept"),
    (["ctk=q3"], "does not accept"),
    ([], "empty"),
])
def test_parse_space_rejects(words: list[str], needle: str) -> None:
    with pytest.raises(UsageError) as exc:
        parse_space(words)
    assert needle in exc.value.one_line()
    assert "\n" not in exc.value.one_line()


def test_boolean_off_leaves_the_flag_out() -> None:
    sp = parse_space(["mlock=on,off", "t=2"])
    keys = [c.to_json() for c in sp.configs()]
    assert {"mlock": "on", "t": "2"} in keys and {"t": "2"} in keys


def test_servers_from_repeated_option_and_conflict() -> None:
    sp = parse_space(["t=1,2"], servers=["/a/bin/llama-server", "/b/bin/llama-server"])
    assert sp.dims[0].name == "server" and sp.servers == ("/a/bin/llama-server", "/b/bin/llama-server")
    with pytest.raises(UsageError):
        parse_space(["server=/x,/y"], servers=["/a", "/b"])
    assert parse_space(["server=embedded,/x/llama-server"]).servers == ("embedded", "/x/llama-server")


def test_order_groups_by_server_then_load_flags() -> None:
    sp = parse_space(["ub=128,512", "mlock=on,off", "server=/a/s,/b/s"])
    configs = sp.configs()
    servers = [c.server for c in configs]
    assert servers == ["/a/s"] * 4 + ["/b/s"] * 4  # one build's trials run together
    first_four = [c.flags_dict().get("mlock", "off") for c in configs[:4]]
    assert first_four == ["on", "on", "off", "off"]  # then by how the weights load


def test_combination_problem_b_below_ub() -> None:
    sp = parse_space(["b=256,2048", "ub=512"])
    problems = {c.key(): combination_problem(c.flags_dict()) for c in sp.configs()}
    bad = [p for p in problems.values() if p]
    assert len(bad) == 1 and "b=256" in bad[0] and "ub=512" in bad[0]


def test_config_roundtrip_and_lossy() -> None:
    c = Config((("ctk", "q8_0"), ("t", "2")), "/x/llama-server")
    assert Config.from_json(c.to_json()) == c
    assert c.lossy and not Config((("ctk", "f16"),)).lossy
    assert Config().label() == "defaults"
    sp = parse_space(["ctk=f16,q8_0"])
    assert Space.from_json(sp.to_json()) == sp and sp.lossy


def test_space_config_refuses_values_outside() -> None:
    sp = parse_space(["t=1,2"])
    with pytest.raises(UsageError):
        sp.config({"t": "3"})


def test_objectives() -> None:
    assert parse_objective("decode@32k").depth == 32768
    assert parse_objective("prefill@8k").kind == "prefill"
    assert parse_objective(None).kind == "balanced"
    assert parse_objective("balanced@2k").depth == 2048
    for bad in ("speed", "decode@", "decode@1,2", "prefill@4"):
        with pytest.raises(UsageError):
            parse_objective(bad)


def test_workload_prompts_exercise_the_largest_ubatch_and_fit_the_context() -> None:
    wl = plan_workload(parse_objective("decode@32k"), 2048, granted=8192, repeats=3)
    assert wl.prefill_tokens >= 2 * 2048
    assert wl.decode_depth < 8192 and wl.decode_depth % 256 == 0
    assert any("not 32,768" in n for n in wl.notes)
    wl2 = plan_workload(parse_objective("prefill@128"), 64, granted=32768, repeats=2)
    assert (wl2.prefill_tokens, wl2.decode_depth) == (128, 0) and not wl2.notes
    assert wl.fits(4096) is not None and wl2.fits(32768) is None


def test_scores_are_ratios_to_the_baseline() -> None:
    assert score("decode", 100.0, 20.0, 100.0, 10.0) == 2.0
    assert score("prefill", 50.0, 20.0, 100.0, 10.0) == 0.5
    assert score("balanced", 400.0, 10.0, 100.0, 10.0) == pytest.approx(2.0)
    assert score("decode", 100.0, None, 100.0, 10.0) is None
    assert rep_scores("decode", [1.0, 2.0], [10.0, None], 1.0, 10.0) == [1.0, None]
