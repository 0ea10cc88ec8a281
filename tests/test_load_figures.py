"""Units for the load figures (measure/load.py): from rows of known timing to the level
figures, the best aggregate, the knee and its statement."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rigbench.measure.load import (
    best_of,
    knee_of,
    level_figures,
    load_figures,
    percentile,
    server_delta,
)

S = 1_000_000_000


def req(sent_s: float, first_s: float, last_s: float, tokens: int = 101, *, status: str = "ok", level: int = 1,
        error: str | None = None) -> dict:
    return {"status": status, "phase": "load", "t_sent_ns": int(sent_s * S), "t_first_token_ns": int(first_s * S),
            "t_last_token_ns": int(last_s * S), "t_end_ns": int(last_s * S) + 1000,
            "completion_tokens": tokens if status == "ok" else None, "timings": None, "error": error,
            "extra": {"level": level}}


def test_a_level_of_two_streams_follows_the_definitions() -> None:
    # two streams from t=0, each 101 tokens over 1 s of decode after 0.1 s TTFT, then again
    rows = [req(0, 0.1, 1.1), req(0, 0.2, 1.2), req(1.1, 1.2, 2.2), req(1.2, 1.4, 2.4)]
    lv = level_figures(2, rows, slo_decode_tok_s=50)
    assert lv.requests_ok == 4 and lv.requests_failed == 0
    assert lv.wall_s == pytest.approx(2.4)
    assert lv.aggregate_tok_s == pytest.approx(404 / 2.4, abs=0.01)
    assert lv.per_stream_decode_tok_s == pytest.approx(100.0)
    assert lv.ttft_ms_p50 == pytest.approx(150.0)  # 100, 100, 200, 200
    assert lv.goodput_rps == pytest.approx(4 / 2.4, abs=1e-3) and lv.slo_share == 1.0


def test_failed_requests_stay_out_of_every_rate_and_count_against_goodput() -> None:
    rows = [req(0, 0.1, 1.1), req(0, 0.1, 0.2, status="error", error="HTTP 503: busy")]
    lv = level_figures(2, rows, slo_decode_tok_s=50)
    assert lv.requests_ok == 1 and lv.requests_failed == 1
    assert lv.per_stream_decode_tok_s == pytest.approx(100.0)
    assert lv.aggregate_tok_s == pytest.approx(101 / 1.1, abs=0.01)
    assert lv.slo_share == 0.5
    assert lv.errors == ["HTTP 503: busy"]


def test_ttft_slo_counts_in_goodput() -> None:
    rows = [req(0, 0.1, 1.1), req(0, 0.9, 1.9)]
    lv = level_figures(2, rows, slo_decode_tok_s=50, slo_ttft_ms=500)
    assert lv.slo_share == 0.5


def test_nothing_ok_means_unknown_never_zero() -> None:
    lv = level_figures(1, [req(0, 0.1, 0.2, status="error", error="x")], slo_decode_tok_s=20)
    assert lv.aggregate_tok_s is None and lv.per_stream_decode_tok_s is None and lv.ttft_ms_p50 is None
    assert lv.goodput_rps is None and lv.slo_share == 0.0


def test_server_token_gap_is_flagged_over_five_percent() -> None:
    rows = [req(0, 0.1, 1.1, tokens=100), req(0, 0.1, 1.1, tokens=100)]
    ok = level_figures(2, rows, slo_decode_tok_s=20, scrapes=[
        {"before": {"generation_tokens": 1000}, "after": {"generation_tokens": 1196}}])
    assert ok.server_tokens == 196 and not ok.token_gap_flagged
    bad = level_figures(2, rows, slo_decode_tok_s=20, scrapes=[
        {"before": {"generation_tokens": 1000}, "after": {"generation_tokens": 1300}}])
    assert bad.token_gap_flagged and bad.token_gap_pct == pytest.approx(-33.33, abs=0.01)


def test_server_delta_sums_servers_and_keeps_gauge_peaks() -> None:
    d = server_delta([
        {"before": {"generation_tokens": 10, "requests_running": 0}, "after": {"generation_tokens": 30},
         "peak": {"requests_running": 4, "requests_waiting": 2}},
        {"before": {"generation_tokens": 5}, "after": {"generation_tokens": 15}, "peak": {"kv_usage": 0.5}}])
    assert d["generation_tokens"] == 30
    assert d["requests_running_peak"] == 4 and d["requests_waiting_peak"] == 2 and d["kv_usage_peak"] == 0.5
    # one server without the counter: no sum at all (unknown, not a partial figure)
    assert "generation_tokens" not in server_delta([{"before": {"generation_tokens": 1}, "after": {}}])


def _level(c: int, decode: float, agg: float, failed: int = 0):  # type: ignore[no-untyped-def]
    from rigbench.measure.load import LevelFigures

    return LevelFigures(c, 3 * c - failed, failed, agg, decode, decode * 0.9, 100.0, 150.0, 1.0, 1.0)


def test_knee_is_contiguous_from_the_lowest_level_and_the_statement_says_it() -> None:
    levels = [_level(1, 60, 60), _level(2, 45, 90), _level(4, 25, 100), _level(8, 12, 96)]
    best = best_of(levels)
    assert best is not None and best.concurrency == 4 and best.tokens_per_hour == 360_000
    k = knee_of(levels, best, slo_decode_tok_s=20)
    assert k.concurrency == 4
    assert k.statement.startswith("this rig feeds 4 agents at >= 20 tok/s each")
    assert "background throughput peaks at 100 tok/s with 4 streams (360,000 tokens/hour)" in k.statement
    # a level above a miss does not count
    k2 = knee_of([_level(1, 60, 60), _level(2, 10, 90), _level(4, 25, 100)], best, slo_decode_tok_s=20)
    assert k2.concurrency == 1


def test_a_level_with_failures_feeds_nobody() -> None:
    k = knee_of([_level(1, 60, 60), _level(2, 45, 90, failed=1)], None, slo_decode_tok_s=20)
    assert k.concurrency == 1 and "1 of 6 requests failed" in k.statement


def test_no_level_meets_the_slo() -> None:
    k = knee_of([_level(1, 8, 8)], None, slo_decode_tok_s=20)
    assert k.concurrency is None and "feeds no agent" in k.statement and "8.0 tok/s" in k.statement


def test_load_figures_groups_rows_by_level_and_ignores_other_phases() -> None:
    rows = [req(0, 0.1, 1.1, level=1), req(5, 5.1, 6.1, level=2), req(5, 5.2, 6.2, level=2),
            {**req(0, 0.1, 0.2), "phase": "load_prime"}]
    lf = load_figures(rows, {"1": {"planned": 1}, "2": {"planned": 3}}, slo_decode_tok_s=20)
    assert [lv.concurrency for lv in lf.levels] == [1, 2]
    assert lf.levels[0].requests_ok == 1 and lf.levels[1].requests_ok == 2
    assert lf.levels[0].complete and not lf.levels[1].complete


@given(st.lists(st.floats(min_value=0, max_value=1e6, allow_nan=False), min_size=1, max_size=50),
       st.floats(min_value=0, max_value=100))
def test_percentile_stays_within_the_data(xs: list[float], q: float) -> None:
    p = percentile(xs, q)
    assert p is not None and min(xs) <= p <= max(xs)
    assert percentile(xs, 0) == min(xs) and percentile(xs, 100) == max(xs)


@given(st.lists(st.tuples(st.floats(0, 100), st.floats(0.01, 5), st.floats(0.01, 10), st.integers(2, 500)),
                min_size=1, max_size=30))
def test_aggregate_never_exceeds_tokens_over_the_shortest_possible_wall(reqs: list[tuple]) -> None:
    rows = [req(s, s + f, s + f + d, tokens=n) for s, f, d, n in reqs]
    lv = level_figures(len(rows), rows, slo_decode_tok_s=20)
    total = sum(n for *_, n in reqs)
    wall = max(s + f + d for s, f, d, _ in reqs) - min(s for s, *_ in reqs)
    assert lv.aggregate_tok_s == pytest.approx(total / wall, rel=1e-3, abs=0.01)
    assert lv.requests_ok + lv.requests_failed == len(rows)
    assert lv.slo_share is not None and 0 <= lv.slo_share <= 1
