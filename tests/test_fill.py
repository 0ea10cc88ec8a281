"""The fill-time fit: prefill time(d) = a*d + b*d^2, fitted from measured chunks, projected."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rigbench.errors import UsageError
from rigbench.jobs.summary import context_sequence, fill_figures
from rigbench.measure.fill import (
    FillSample,
    fill_projection,
    fit_fill,
    fmt_duration,
    samples_from_points,
    samples_from_rates,
)


def sweep(a: float, b: float, depths: list[int], noise: list[float] | None = None) -> list[FillSample]:
    """The chunks a depth sweep prefills: each grow request adds the tokens since the last depth."""
    out, prev = [], 0
    for i, d in enumerate(depths):
        t = a * (d - prev) + b * (d * d - prev * prev)
        out.append(FillSample(prev, d, t * (noise[i] if noise else 1.0)))
        prev = d
    return out


def test_exact_recovery_and_projection() -> None:
    a, b = 1 / 500, 2e-8  # 500 tok/s of weights; attention adds 2e-8 s per token per token in context
    fit = fit_fill(sweep(a, b, [1024, 4096, 16384, 32768]))
    assert fit is not None
    assert fit.a_s == pytest.approx(a, rel=1e-6) and fit.b_s == pytest.approx(b, rel=1e-6)
    assert fit.seconds(1_000_000) == pytest.approx(a * 1e6 + b * 1e12, rel=1e-6)  # 2,000 s + 20,000 s
    lo, hi = fit.range_s(1_000_000) or (0, 0)
    assert lo == pytest.approx(hi, rel=1e-6)  # exact data: leaving a depth out changes nothing
    assert fit.rate_at(0) == pytest.approx(500)


@settings(max_examples=60, deadline=None)
@given(st.floats(1e-5, 1e-1), st.floats(0, 1e-6),
       st.lists(st.integers(300, 20000), min_size=2, max_size=6, unique=True))
def test_recovers_any_nonnegative_law(a: float, b: float, ends: list[int]) -> None:
    depths = sorted(ends)
    fit = fit_fill(sweep(a, b, depths))
    assert fit is not None
    truth = a * 1e6 + b * 1e12
    assert fit.seconds(1_000_000) == pytest.approx(truth, rel=1e-4)


def test_noise_gives_a_range_around_the_fit() -> None:
    fit = fit_fill(sweep(1 / 400, 5e-8, [1024, 2048, 4096, 8192], noise=[1.05, 0.95, 1.04, 0.97]))
    assert fit is not None
    lo, hi = fit.range_s(1_000_000) or (0, 0)
    mid = fit.seconds(1_000_000)
    assert lo <= mid <= hi and hi > lo * 1.01  # the data disagree, so the range is not a point


def test_prefill_faster_when_deeper_clamps_the_attention_term() -> None:
    # later chunks cheaper per token than a straight line allows: b would be negative
    samples = [FillSample(0, 1000, 2.0), FillSample(1000, 2000, 1.8), FillSample(2000, 3000, 1.7)]
    fit = fit_fill(samples)
    assert fit is not None and fit.b_s == 0 and fit.a_s > 0
    assert "floors" in fill_projection(fit, {"1m": 1_000_000})[1]["statement"]


def test_fewer_than_two_depths_is_null() -> None:
    assert fit_fill([FillSample(0, 1000, 2.0)]) is None
    fill_s, detail = fill_projection(None, {"native": 32768, "granted": 32768, "1m": 1_000_000})
    assert fill_s == {"native": None, "granted": None, "1m": None}
    assert "no fill-time projection" in detail["statement"]


def point(depth: int, prompt: int, new: int, rate: float, server: float | None = None) -> dict[str, object]:
    return {"depth": depth, "prompt_tokens": prompt, "prefill_new_tokens": new, "prefill_tok_s": rate,
            "prefill_tok_s_server": server}


def test_samples_from_points_skip_short_chunks_and_prefer_server_timings() -> None:
    points = [point(0, 30, 30, 50.0, 60.0), point(1024, 1060, 1030, 400.0, 410.0),
              point(4096, 4130, 3070, 300.0, 310.0)]
    samples, basis, skipped = samples_from_points(points)
    assert basis == "server" and skipped == [0]
    assert samples[0] == FillSample(30, 1060, 1030 / 410.0) and samples[1].start == 1060
    points[2]["prefill_tok_s_server"] = None  # one point without the server's timing: the client's for all
    assert samples_from_points(points)[1] == "client"


def test_fill_figures_on_points_projects_three_targets() -> None:
    a, b = 1 / 300, 1e-7
    pts, prev = [], 0
    for d in (0, 2048, 4096, 8192):
        end, new = d + 40, d + 40 - prev
        secs = a * new + b * (end * end - prev * prev)
        pts.append(point(d, end, new, new / secs))
        prev = end
    fill_s, detail = fill_figures(pts, 32768, 16384)
    assert set(fill_s) == {"native", "granted", "1m"}
    assert fill_s["native"] == pytest.approx(a * 32768 + b * 32768**2, rel=1e-3)
    assert fill_s["1m"] == pytest.approx(a * 1e6 + b * 1e12, rel=1e-3)  # ~ 100,000 s: hours
    assert detail["skipped_depths"] == [0] and detail["basis"] == "client" and len(detail["samples"]) == 3
    assert "27h" in detail["statement"] or "28h" in detail["statement"]


def test_the_posts_numbers_book_hours() -> None:
    # GLM-5.1 on an M3 Ultra: 86 tok/s over a 5,460-token prompt, 226 s for 12,810 tokens
    fit = fit_fill(samples_from_rates("86@5460,56.68@12810"))
    assert fit is not None
    assert fit.seconds(5460) == pytest.approx(5460 / 86, rel=1e-6)
    assert fit.seconds(12810) == pytest.approx(226, rel=1e-3)
    assert 8 * 3600 < fit.seconds(202752) < 11 * 3600  # the native window: most of a working day
    assert fit.seconds(1_000_000) > 100 * 3600


def test_rates_parse_and_bad_rates_are_usage_errors() -> None:
    assert samples_from_rates("185") == [FillSample(0, 4096, 4096 / 185)]
    assert samples_from_rates("185@2k, 86@5460")[0].end == 2048
    for bad in ("fast", "0", "185@", "-3@100", "185@0"):
        with pytest.raises(UsageError, match="--prefill-tok-s"):
            samples_from_rates(bad)
    one = fit_fill(samples_from_rates("100"), min_samples=1)  # one rate: flat, a floor
    assert one is not None and one.b_s == 0 and one.seconds(1_000_000) == pytest.approx(10_000)


def test_fmt_duration() -> None:
    assert [fmt_duration(x) for x in (0.42, 38, 760, 3600, 11_100, 825_527, None)] == \
        ["0.4s", "38s", "12m 40s", "1h 00m", "3h 05m", "229h 19m", "—"]


def test_context_sequence_reads_like_the_post() -> None:
    kv = [{"mib": 85709.81, "cells": 1000192, "layers": 78}]
    steps = context_sequence(1_000_000, kv, 202752, True, 202752, None, 202752)
    assert steps == ["requested 1,000,000", "KV cache allocated 85,709.81 MiB (1,000,192 cells)",
                     "slot capped to 202,752 (the trained window)", "native 202,752"]
    sticker = context_sequence(1_000_000, [], 131072, True, 32768, 131072, 131072)
    assert sticker[1] == "slot capped to 131,072 (the file's context_length, llama.cpp's n_ctx_train)"
    assert "an extension" in sticker[2]
