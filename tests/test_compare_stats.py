"""The pure side of compare: paired ratios, verdicts, floors, crossover, session figures."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from rigbench.measure.compare import (
    compare_depths,
    compare_result,
    compare_statement,
    crossover,
    floors,
    session_bands,
    session_figures,
)
from rigbench.measure.stats import SMALL_N, paired, pooled, t_quantile, verdict_of
from rigbench.report.terminal import compare_card
from rigbench.results import CompareResult


def row(depth: int | None, rep: int, decode: float, *, role: str = "a", ttft_ms: float = 100.0, gen: int = 32,
        prompt_n: int = 40, cache_n: int = 0, status: str = "ok", **extra: Any) -> dict[str, Any]:
    """A stored request row whose figures come out as given (decode tok/s, TTFT)."""
    first = int(ttft_ms * 1e6)
    return {"status": status, "depth": depth, "rep": rep, "role": role, "phase": "compare", "seq": rep,
            "t_sent_ns": 0, "t_first_token_ns": first, "t_last_token_ns": first + int((gen - 1) / decode * 1e9),
            "t_end_ns": first + int((gen - 1) / decode * 1e9) + 1000, "completion_tokens": gen,
            "prompt_tokens": prompt_n + cache_n, "cached_tokens": cache_n,
            "timings": {"prompt_n": prompt_n, "cache_n": cache_n}, "extra": extra}


def test_t_quantiles() -> None:
    assert t_quantile(1) == pytest.approx(12.706)
    assert t_quantile(4) == pytest.approx(2.776)
    assert t_quantile(1000) == pytest.approx(1.96)
    with pytest.raises(ValueError):
        t_quantile(0)


def test_clearly_faster_b() -> None:
    a = [50.0, 51.0, 49.5, 50.5, 50.2, 49.8, 50.1, 50.4]
    b = [x * 1.4 + d for x, d in zip(a, [0.2, -0.1, 0.3, 0.0, -0.2, 0.1, 0.2, -0.3], strict=True)]
    p = paired(a, b)
    assert p.verdict == "b_faster" and p.n == 8
    assert p.ratio == pytest.approx(1.4, rel=0.01)
    assert p.ci is not None and p.ratio is not None and 1.35 < p.ci[0] <= p.ratio <= p.ci[1] < 1.45
    assert p.mde_pct is not None and p.mde_pct < 3
    assert p.method == "paired bootstrap"


def test_clearly_faster_a_and_equal() -> None:
    a = [60.0, 61.0, 59.0, 60.5, 60.2, 59.6, 60.1, 60.4]
    assert paired(a, [x * 0.7 for x in a]).verdict == "a_faster"
    same = paired(a, a)
    assert same.verdict == "no_difference" and same.ratio == pytest.approx(1.0)


def test_two_noisy_pairs_of_one_config_are_no_difference() -> None:
    # the percentile bootstrap alone would call [1.01, 1.03] a win; with 2 pairs it is noise
    p = paired([50.0, 50.0], [50.5, 51.5])
    assert p.verdict == "no_difference"
    assert p.ci is not None and p.ci[0] < 1.0 < p.ci[1]
    assert "t interval" in p.method and p.n < SMALL_N


def test_two_pairs_can_still_show_a_large_difference() -> None:
    assert paired([40.0, 41.0], [64.0, 66.0]).verdict == "b_faster"


def test_missing_values_drop_the_pair_and_nothing_is_no_difference() -> None:
    p = paired([50.0, None, 51.0, 0.0], [60.0, 61.0, None, 62.0])
    assert p.n == 1 and p.ci is None and p.verdict == "no_difference" and p.mde_pct is None
    empty = paired([], [])
    assert empty.n == 0 and empty.ratio is None


def test_more_noise_means_a_larger_mde() -> None:
    a = [50.0] * 10
    quiet = paired(a, [50 + d for d in (0.1, -0.1, 0.2, -0.2, 0.0, 0.1, -0.1, 0.05, -0.05, 0.0)])
    loud = paired(a, [50 + 10 * d for d in (0.1, -0.1, 0.2, -0.2, 0.0, 0.1, -0.1, 0.05, -0.05, 0.0)])
    assert quiet.mde_pct is not None and loud.mde_pct is not None and loud.mde_pct > 3 * quiet.mde_pct


rates = st.lists(st.floats(min_value=1.0, max_value=500.0, allow_nan=False), min_size=2, max_size=12)


@settings(max_examples=60, deadline=None)
@given(a=rates, b=rates)
def test_swapping_sides_inverts_the_ratio(a: list[float], b: list[float]) -> None:
    n = min(len(a), len(b))
    ab, ba = paired(a[:n], b[:n]), paired(b[:n], a[:n])
    assert ab.ratio is not None and ba.ratio is not None
    assert ab.ratio * ba.ratio == pytest.approx(1.0)
    assert ab.ci is not None and ba.ci is not None
    assert ab.ci[0] <= ab.ratio * (1 + 1e-9) and ab.ratio <= ab.ci[1] * (1 + 1e-9)
    flip = {"b_faster": "a_faster", "a_faster": "b_faster", "no_difference": "no_difference"}
    if ab.ci[0] > 1.02 or ab.ci[1] < 0.98:  # clear of the boundary, where interpolation may differ
        assert ba.verdict == flip[ab.verdict]


@settings(max_examples=40, deadline=None)
@given(a=rates, b=rates, k=st.floats(min_value=0.1, max_value=10.0))
def test_units_do_not_matter(a: list[float], b: list[float], k: float) -> None:
    n = min(len(a), len(b))
    p, q = paired(a[:n], b[:n]), paired([x * k for x in a[:n]], [y * k for y in b[:n]])
    assert q.ratio == pytest.approx(p.ratio)
    assert p.ci is not None and q.ci is not None
    assert q.ci[0] == pytest.approx(p.ci[0]) and q.ci[1] == pytest.approx(p.ci[1])
    assert q.verdict == p.verdict


def test_pooled_over_depths() -> None:
    g1 = ([50.0, 51.0, 49.0, 50.0], [70.0, 71.5, 69.0, 70.2])
    g2 = ([30.0, 30.5, 29.5, 30.2], [42.0, 42.5, 41.0, 42.3])
    p = pooled([g1, g2])
    assert p.verdict == "b_faster" and p.n == 8 and p.ratio == pytest.approx(1.4, rel=0.02)
    same = pooled([(g1[0], g1[0]), (g2[0], g2[0])])
    assert same.verdict == "no_difference" and same.ratio == pytest.approx(1.0)
    assert pooled([([], [])]).n == 0


def test_floors_and_crossover() -> None:
    pts = [{"depth": 0, "a_decode_tok_s": 60.0, "b_decode_tok_s": 55.0, "verdict": "a_faster"},
           {"depth": 4096, "a_decode_tok_s": 50.0, "b_decode_tok_s": 50.5, "verdict": "no_difference"},
           {"depth": 16384, "a_decode_tok_s": 35.0, "b_decode_tok_s": 45.0, "verdict": "b_faster"}]
    f = floors(pts)
    assert f["a"] == {"decode_tok_s": 35.0, "depth": 16384} and f["b"] == {"decode_tok_s": 45.0, "depth": 16384}
    c = crossover(pts)
    assert c is not None and c["depth"] == 16384 and c["after_depth"] == 0 and (c["from"], c["to"]) == ("a", "b")
    assert "B overtakes A" in c["statement"]
    assert crossover([{**p, "verdict": "b_faster"} for p in pts]) is None
    assert crossover([]) is None and floors([]) == {"a": None, "b": None}


def test_compare_depths_from_rows() -> None:
    a = [row(d, k, 50.0 - d / 1000 + k * 0.1, role="a", step="grow" if k == 0 else "probe") for d in (0, 1024)
         for k in range(4)]
    b = [row(d, k, 70.0 - d / 1000 + k * 0.1, role="b", step="grow" if k == 0 else "probe") for d in (0, 1024)
         for k in range(4)]
    b.append(row(2048, 0, 10.0, role="b"))  # a depth only B measured is not compared
    b.append(row(0, 1, 5.0, role="b", status="error"))  # failed requests never count
    points, groups = compare_depths(a, b)
    assert [p["depth"] for p in points] == [0, 1024] and len(groups) == 2
    for p in points:
        assert set(p) >= {"depth", "a_decode_tok_s", "b_decode_tok_s", "a_prefill_tok_s", "b_prefill_tok_s",
                          "ratio", "ci", "verdict"}
        assert p["verdict"] == "b_faster" and p["pairs"] == 4 and p["ratio"] == pytest.approx(1.4, rel=0.03)
        assert p["a_prefill_tok_s"] == pytest.approx(400.0, rel=0.01)  # 40 tokens / 100 ms
    r = compare_result(a, b)
    assert r["verdict"] == "b_faster" and r["crossover"] is None and r["floors"]["a"]["depth"] == 1024
    assert "B decodes faster" in r["statement"]


# -- one verdict rule, per depth and overall (issue 13 item 6) ---------------------------------

# Two depths, three repeats each, B a little ahead but noisy: each depth alone is no
# difference; the pooled interval lies just above 1 (the old rule, "wholly above 1", called
# it "B faster"), yet the 1.9% effect is below the ~2.7% this compare can detect.
_LEAN = [([53.7, 53.5, 53.2], [53.7, 56.7, 54.4]), ([52.5, 52.6, 52.5], [55.5, 53.6, 53.3])]


def _rows_of(groups: list[tuple[list[float], list[float]]], *, swap: bool = False) -> tuple[list[Any], list[Any]]:
    a_rows, b_rows = [], []
    for d, (a, b) in zip((0, 1024), groups, strict=True):
        if swap:
            a, b = b, a
        a_rows += [row(d, k, x, role="a", step="grow" if k == 0 else "probe") for k, x in enumerate(a)]
        b_rows += [row(d, k, y, role="b", step="grow" if k == 0 else "probe") for k, y in enumerate(b)]
    return a_rows, b_rows


def test_verdict_rule_needs_the_interval_and_the_detectable_effect() -> None:
    # excludes 1 and the effect (1.7%) is at least the MDE (about 1.3%): a winner, either way round
    assert verdict_of(1.017, (1.004, 1.030)).verdict == "b_faster"
    assert verdict_of(1 / 1.017, (1 / 1.030, 1 / 1.004)).verdict == "a_faster"
    # the same ratio with a wider, lopsided interval: excludes 1 but the effect is under the MDE
    wide = verdict_of(1.017, (1.004, 1.060))
    assert wide.mde_pct is not None and wide.effect_pct is not None and wide.effect_pct < wide.mde_pct
    assert wide.verdict == "no_difference" and wide.bound_pct == pytest.approx(6.0)
    mirror = verdict_of(1 / 1.017, (1 / 1.060, 1 / 1.004))
    assert mirror.verdict == "no_difference" and mirror.bound_pct is not None
    assert mirror.bound_pct >= (1 - 1 / 1.060) * 100
    # the figures: an interval shown as 1.000-1.049 does not clearly exclude 1
    shown = verdict_of(1.017, (1.0003, 1.049))
    assert shown.verdict == "no_difference" and shown.bound_pct == pytest.approx(4.9)
    assert verdict_of(1.0, None) == verdict_of(None, (0.9, 1.1))


def test_bound_is_what_the_interval_allows_rounded_up() -> None:
    for lo, hi in ((0.97, 1.02), (0.991, 1.0401), (0.95, 1.0004)):
        v = verdict_of((lo * hi) ** 0.5, (lo, hi))
        assert v.verdict == "no_difference" and v.bound_pct is not None
        far = max(hi - 1, 1 - lo) * 100
        assert far - 1e-9 <= v.bound_pct < far + 0.1


def test_overall_names_no_winner_the_depths_do_not_support() -> None:
    a, b = _rows_of(_LEAN)
    r = compare_result(a, b)
    assert [p["verdict"] for p in r["depths"]] == ["no_difference", "no_difference"]
    assert all(p["bound_pct"] is not None for p in r["depths"])
    lo, hi = r["ci"]
    assert lo > 1.0 and round(lo, 3) > 1.0  # wholly above 1, even as shown: the old rule named B
    assert r["effect_pct"] < r["mde_pct"]
    assert r["verdict"] == "no_difference"
    assert hi * 100 - 100 <= r["bound_pct"] < hi * 100 - 100 + 0.1
    assert r["statement"].startswith(f"no difference larger than {r['bound_pct']:.1f}% either way")
    assert "lean toward B is smaller than" in r["statement"] and "faster" not in r["statement"]
    # the same with the sides swapped: A leans, and still no winner
    a2, b2 = _rows_of(_LEAN, swap=True)
    r2 = compare_result(a2, b2)
    assert r2["verdict"] == "no_difference" and r2["ci"][1] < 1.0 and "lean toward A" in r2["statement"]


def test_a_real_difference_is_still_a_winner_both_ways() -> None:
    a = [[50.0, 50.6, 49.7], [40.0, 40.3, 39.8]]
    real = [(x, [v * 1.15 + 0.1 * k for k, v in enumerate(x)]) for x in a]
    ab, bb = _rows_of(real)
    r = compare_result(ab, bb)
    assert [p["verdict"] for p in r["depths"]] == ["b_faster", "b_faster"]
    assert r["verdict"] == "b_faster" and r["bound_pct"] is None and r["effect_pct"] >= r["mde_pct"]
    assert r["statement"].startswith("B decodes faster")
    r2 = compare_result(*_rows_of(real, swap=True))
    assert [p["verdict"] for p in r2["depths"]] == ["a_faster", "a_faster"]
    assert r2["verdict"] == "a_faster" and r2["statement"].startswith("A decodes faster")


def test_compare_card_states_the_bound_per_depth_and_overall() -> None:
    r = compare_result(*_rows_of(_LEAN))
    s = {**r, "compare_id": 5, "status": "complete", "mode": "depth", "a": {"text": "embedded:c=32768"},
         "b": {"text": "embedded:c=1000000"}, "notes": []}
    console = Console(width=200, color_system=None, record=True)
    console.print(compare_card(CompareResult.from_json(s)))
    text = console.export_text()
    for p in r["depths"]:
        assert f"no difference ≤{p['bound_pct']:.1f}%" in text
    assert f"Verdict: no difference — no difference larger than {r['bound_pct']:.1f}% either way" in text
    assert "b faster" not in text


def test_pooled_winner_that_no_depth_shows_alone_says_so() -> None:
    r = {"ratio": 1.05, "ci": [1.03, 1.07], "mde_pct": 1.9, "effect_pct": 5.0, "pairs": 6, "verdict": "b_faster",
         "depths": [{"verdict": "no_difference"}, {"verdict": "no_difference"}]}
    assert "no single one shows it alone" in compare_statement(r, 2, "depths")
    r["depths"] = [{"verdict": "b_faster"}, {"verdict": "no_difference"}]
    assert "alone" not in compare_statement(r, 2, "depths")


def _turns(decodes: list[float], role: str = "a") -> list[dict[str, Any]]:
    out = []
    ctx = 0
    for i, d in enumerate(decodes):
        prompt_n = 200
        rows = row(ctx, i, d, role=role, prompt_n=prompt_n, cache_n=ctx, turn_kind="run",
                   expected_reuse=ctx or None, cache_verified=True if ctx else None)
        out.append(rows)
        ctx += prompt_n + 32
    return out


def test_session_figures() -> None:
    s = session_figures(_turns([80.0, 85.0, 90.0, 78.0, 88.0, 84.0]))
    assert s["turns"] == s["turns_ok"] == 6
    assert s["decode_median_tok_s"] == pytest.approx(84.5, rel=0.01)
    assert s["decode_worst_tok_s"] == pytest.approx(78.0, rel=0.01) and s["worst_turn"] == 3
    assert s["worst_depth"] == 3 * 232 and s["context_start"] == 200
    c = s["cache"]
    assert c["verified_turns"] == 5 and c["missed_turns"] == 0
    assert c["reused_tokens"] == sum(232 * k for k in range(6)) and c["processed_tokens"] == 6 * 200
    assert "worst dip 78.0 at turn 4" in s["statement"] and "84.5 tok/s sustained" in s["statement"]
    assert math.isclose(c["reuse_pct"], round(c["reused_tokens"] / sum(p["prompt_tokens"] for p in s["per_turn"])
                                              * 100, 1))


def test_session_bands_compare() -> None:
    a = _turns([60.0 + (i % 3) for i in range(13)], "a")
    b = _turns([80.0 + (i % 3) for i in range(13)], "b")
    bands, groups = session_bands(a, b)
    assert [x["turns"] for x in bands] == [[1, 6], [7, 13]]  # the lone 13th turn joins the last band
    assert all(x["verdict"] == "b_faster" for x in bands) and sum(len(g[0]) for g in groups) == 13
    r = compare_result(a, b, session=True)
    assert r["verdict"] == "b_faster" and set(r["sessions"]) == {"a", "b"}
    assert r["floors"]["a"]["turn"] == 0 and r["floors"]["b"]["decode_tok_s"] == pytest.approx(80.0, rel=0.01)
