from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rigbench.errors import UsageError
from rigbench.measure.plan import estimate_step, fit_context, parse_depths, parse_duration
from rigbench.measure.points import depth_points, sweep_cost, verdict
from rigbench.measure.speed import figures, gap_pct
from rigbench.measure.stats import bootstrap_ci, paired_ratio, summarize


def row(**kw: object) -> dict:
    base = {"status": "ok", "phase": "speed", "t_sent_ns": 0, "t_first_token_ns": 100_000_000,
            "t_last_token_ns": 1_100_000_000, "t_end_ns": 1_200_000_000, "completion_tokens": 101,
            "prompt_tokens": 1000, "cached_tokens": 200, "timings": None}
    base.update(kw)
    return base


def test_figures_follow_the_definitions() -> None:
    f = figures(row())
    assert f.ttft_ms == 100.0
    assert f.decode_tok_s == pytest.approx(100.0)  # (101 - 1) tokens over 1.0 s
    assert f.processed_tokens == 800
    assert f.prefill_tok_s == pytest.approx(8000.0)  # 800 new tokens over the 0.1 s TTFT


def test_server_timings_are_kept_beside_and_prompt_n_wins() -> None:
    f = figures(row(timings={"prompt_n": 500, "cache_n": 500, "predicted_per_second": 99.0,
                             "prompt_per_second": 4000.0}))
    assert f.processed_tokens == 500
    assert f.decode_tok_s_server == 99.0 and f.prefill_tok_s_server == 4000.0


def test_missing_timestamps_are_none_never_zero() -> None:
    f = figures(row(t_first_token_ns=None, t_last_token_ns=None))
    assert f.ttft_ms is None and f.decode_tok_s is None and f.prefill_tok_s is None


def test_unknown_cache_leaves_prefill_unknown() -> None:
    f = figures(row(cached_tokens=None))
    assert f.processed_tokens is None and f.prefill_tok_s is None


def test_gap() -> None:
    assert gap_pct(95.0, 100.0) == pytest.approx(-5.0)
    assert gap_pct(None, 100.0) is None


def test_points_keep_failures_apart() -> None:
    rows = [row(depth=0, rep=0, role="grow"), row(depth=0, rep=1, role="probe", t_last_token_ns=600_000_000),
            row(depth=0, rep=2, role="probe", status="error", completion_tokens=3)]
    p = depth_points(rows)[0]
    assert p["n"] == 2 and p["failed"] == 1
    assert p["decode_tok_s"] == pytest.approx((100 + 200) / 2, rel=1e-6)
    assert p["prefill_tok_s"] == pytest.approx(8000.0)


def test_gap_over_five_percent_is_flagged() -> None:
    rows = [row(depth=0, rep=0, role="grow", timings={"predicted_per_second": 120.0, "prompt_n": 800})]
    p = depth_points(rows)[0]
    assert p["decode_gap_pct"] == pytest.approx(-16.67, abs=0.01)
    assert any("gap" in f for f in p["flags"])


def test_verdict_against_both_bars() -> None:
    pts = [{"depth": 0, "decode_tok_s": 150.0}, {"depth": 32768, "decode_tok_s": 120.0}]
    v = verdict(pts, 1_048_576)
    assert v["decode_ok"] and v["context_ok"] and v["class"] == "interactive"
    v = verdict(pts, 202_752)
    assert v["class"] == "background" and not v["context_ok"] and "202,752" in v["summary"]
    v = verdict([{"depth": 0, "decode_tok_s": 63.0}], 1_048_576)
    assert not v["decode_ok"] and "deepest measured" in v["summary"]
    assert verdict([], None)["decode_tok_s"] is None


def test_verdict_of_an_agent_session_uses_its_sustained_decode() -> None:
    session = {"decode_median_tok_s": 84.8, "turns_ok": 30, "context_end": 11_006}
    v = verdict([], 262_144, session=session)
    assert v["decode_tok_s"] == 84.8 and v["basis"] == "session" and not v["decode_ok"]
    assert "sustained over a 30-turn agent session (context up to 11,006) is below the 100 tok/s bar" in v["summary"]
    assert verdict([], None, session={"decode_median_tok_s": None})["decode_tok_s"] is None
    depth = verdict([{"depth": 0, "decode_tok_s": 150.0}], None, session=session)  # a sweep wins over a session
    assert depth["basis"] == "depth" and depth["decode_tok_s"] == 150.0


def test_sweep_cost_counts_processed_tokens() -> None:
    rows = [row(depth=1024, timings={"prompt_n": 1000}), row(depth=4096, timings={"prompt_n": 3100})]
    c = sweep_cost(rows)
    assert c["processed_tokens"] == 4100 and c["ratio"] == pytest.approx(4100 / 4096)


def test_parse_depths() -> None:
    assert parse_depths("0,1k,4096, 16K,1024") == [0, 1024, 4096, 16384]
    assert parse_depths("1M") == [1048576]
    for bad in ("", "1,,2", "abc", "-5", "1.5", "0.3k"):
        with pytest.raises(UsageError):
            parse_depths(bad)


@given(st.text(max_size=30))
def test_parse_depths_never_crashes(text: str) -> None:
    try:
        out = parse_depths(text)
    except UsageError:
        return
    assert out == sorted(set(out)) and all(d >= 0 for d in out)


def test_parse_duration() -> None:
    assert parse_duration("90") == 90 and parse_duration("10m") == 600 and parse_duration("1h") == 3600
    with pytest.raises(UsageError):
        parse_duration("soon")


def test_fit_context_skips_with_reasons() -> None:
    keep, skipped = fit_context([0, 1024, 32768], 32768, 176)
    assert keep == [0, 1024] and skipped[0][0] == 32768 and "32,768" in skipped[0][1]
    assert fit_context([0, 10**6], None, 100) == ([0, 10**6], [])


def test_estimate_step_derates_with_depth() -> None:
    a = estimate_step(1000, 3, 100, 250.0, 50.0, depth_from=0, depth_to=1000)
    b = estimate_step(1000, 3, 100, 250.0, 50.0, depth_from=16000, depth_to=17000)
    assert a and b and a.seconds >= 1000 / 250 + 300 / 50
    assert estimate_step(1000, 3, 100, None, 50.0) is None


def test_stats() -> None:
    s = summarize([10.0, 11.0, 12.0, None])
    assert s.median == 11.0 and s.n == 3 and s.ci is not None and s.ci[0] <= 11.0 <= s.ci[1]
    assert bootstrap_ci([1.0]) is None
    r, ci = paired_ratio([10, 10, 10, 10], [20, 21, 19, 20])
    assert r == pytest.approx(2.0) and ci is not None and ci[0] > 1.5
