"""The energy arithmetic on recorded series: counters (wrap-around, resets), sampled power
(trapezoid), a sampler that misses beats, windows from a request's own timestamps, the
depth point's ``energy`` object, load levels, cost and prices."""

from __future__ import annotations

import itertools
import math
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from rigbench.energy.prices import parse_api_price, parse_electricity_price, parse_rig_price, price_params
from rigbench.errors import UsageError
from rigbench.measure.cost import cost_figures, electricity_per_mtok, payback_mtok
from rigbench.measure.energy import ENERGY_KEYS, curves, energy_data, level_energy, point_energy, request_energy

S = 1_000_000_000  # ns per second


def approx(v: float) -> Any:
    """Figures in the JSON carry six significant digits."""
    return pytest.approx(v, rel=1e-5)


def _rows(ts: list[int], values: list[float], *, kind: str = "counter", wrap: float | None = None,
          phase: str = "run", session: int = 1, channel: str = "package-0") -> list[dict[str, Any]]:
    return [{"session": session, "source": "rapl", "channel": channel, "covers": "cpu_package", "kind": kind,
             "phase": phase, "t_ns": t, "value": v, "wrap": wrap} for t, v in zip(ts, values, strict=True)]


def _power(t_s: float) -> float:
    """A known power curve, piecewise linear with breakpoints on whole seconds: 40 -> 100 -> 70 W."""
    if t_s <= 1:
        return 40 + 60 * t_s
    if t_s <= 2:
        return 100 - 30 * (t_s - 1)
    return 70.0


def _energy(t_s: float) -> float:
    """Its exact integral from 0."""
    if t_s <= 1:
        return 40 * t_s + 30 * t_s**2
    if t_s <= 2:
        u = t_s - 1
        return 70 + 100 * u - 15 * u**2
    return 70 + 85 + 70 * (t_s - 2)


# -- curves ---------------------------------------------------------------------------------------
def test_counter_wrap_around_is_unwrapped() -> None:
    wrap = 100.0
    ts = [0, S, 2 * S, 3 * S]
    vals = [90.0, 20.0, 70.0, 10.0]  # +30 (wrapped), +50, +40 (wrapped)
    (c,) = curves(_rows(ts, vals, wrap=wrap))
    assert c.e == pytest.approx([0.0, 30.0, 80.0, 120.0])
    assert c.between(S // 2, 5 * S // 2) == pytest.approx(100.0 - 15.0)  # E(2.5 s) - E(0.5 s), interpolated


def test_counter_reset_without_a_range_splits_the_curve() -> None:
    (c,) = curves(_rows([0, S, 2 * S, 3 * S], [5.0, 9.0, 1.0, 4.0]))
    assert c.between(0, S) == pytest.approx(4.0)
    assert c.between(2 * S, 3 * S) == pytest.approx(3.0)
    assert c.between(0, 3 * S) is None  # across the reset: unknown, never a guess


@settings(max_examples=200, deadline=None)
@given(start=st.floats(0, 2.5), length=st.floats(0.01, 1.5), step=st.sampled_from([0.05, 0.1, 0.25]),
       drop=st.lists(st.booleans(), min_size=80, max_size=80), wrap=st.sampled_from([None, 7.0, 50.0]))
def test_counter_and_integrated_power_agree_with_ground_truth(start: float, length: float, step: float,
                                                              drop: list[bool], wrap: float | None) -> None:
    """Readings every ``step`` s of a known curve, some beats missed: the counter gives the exact
    energy between readings and interpolates inside; power samples on the curve's breakpoints
    integrate it exactly (it is linear between them)."""
    n = int(4.0 / step) + 1
    times = [round(i * step, 6) for i in range(n)]
    keep = [t for i, t in enumerate(times) if not drop[i % len(drop)] or t in (0.0, 1.0, 2.0, times[-1])]
    gap = max(y - x for x, y in itertools.pairwise(keep))
    assume(wrap is None or gap * 100 < wrap)  # at most 100 W: a counter read less than once per wrap
    ts = [int(t * S) for t in keep]
    counter = [(_energy(t) % wrap) if wrap else _energy(t) for t in keep]
    (c,) = curves(_rows(ts, counter, wrap=wrap))
    (p,) = curves(_rows(ts, [_power(t) for t in keep], kind="power"))
    a, b = int(start * S), int(min(start + length, times[-1]) * S)
    truth = _energy(b / S) - _energy(a / S)
    got_c, got_p = c.between(a, b), p.between(a, b)
    assert got_c is not None and got_p is not None
    # inside one reading interval E is interpolated linearly: bounded by the curve's bend there
    bend = 30 * gap**2 / 4 * 2 + 1e-9  # |E''| <= 60 W/s: linear interpolation errs by at most 60*gap^2/8 per end
    assert got_c == pytest.approx(truth, abs=bend)
    assert got_p == pytest.approx(truth, abs=bend)
    if a / S in keep and b / S in keep:  # on reading times both are exact
        assert got_c == pytest.approx(truth, abs=1e-6)
        assert got_p == pytest.approx(truth, abs=1e-6)


def test_windows_outside_the_readings_have_no_energy() -> None:
    data = energy_data(_rows([S, 2 * S], [0.0, 10.0]))
    assert data.window(0, 2 * S) is None and data.window(S, 3 * S) is None
    assert data.window(S, 2 * S) == pytest.approx(10.0)
    assert data.window(None, 2 * S) is None and data.window(2 * S, S) is None


def test_channels_of_a_session_add_up_and_sessions_stay_apart() -> None:
    rows = _rows([0, 10 * S], [0.0, 500.0]) + _rows([0, 10 * S], [0.0, 100.0], channel="dram-0")
    rows += _rows([20 * S, 30 * S], [0.0, 300.0], session=2)  # resumed: only the package read
    data = energy_data(rows)
    assert data.window(S, 2 * S) == pytest.approx(60.0)
    assert data.window(21 * S, 22 * S) == pytest.approx(30.0)
    assert data.window(5 * S, 25 * S) is None  # across two samplers
    assert data.source == "rapl" and data.covers == "cpu_package"


def test_idle_baseline_is_measured_apart() -> None:
    rows = _rows([0, S, 2 * S], [0.0, 12.0, 24.0], phase="idle") + _rows([3 * S, 4 * S], [124.0, 224.0])
    data = energy_data(rows)
    assert data.idle_watts == pytest.approx(12.0)
    assert data.window(2 * S, 3 * S) == pytest.approx(100.0)  # the window may start on an idle reading


# -- requests and depth points -------------------------------------------------------------------
def _req(sent_s: float, first_s: float, last_s: float, gen: int, *, role: str = "probe", prompt: int = 1000,
         cached: int = 0) -> dict[str, Any]:
    return {"status": "ok", "phase": "speed", "depth": 1024, "role": role, "t_sent_ns": int(sent_s * S),
            "t_first_token_ns": int(first_s * S), "t_last_token_ns": int(last_s * S), "t_end_ns": int(last_s * S),
            "completion_tokens": gen, "prompt_tokens": prompt, "cached_tokens": cached, "timings": None,
            "extra": {}}


def test_point_energy_splits_prefill_and_decode_at_the_requests_timestamps() -> None:
    # 100 W steady from t=0 to 100 s, idle 20 W before
    rows = _rows([-3 * S, 0], [0.0, 60.0], phase="idle") + _rows([i * S for i in range(1, 101)],
                                                                   [60.0 + 100.0 * i for i in range(1, 101)])
    data = energy_data(rows)
    grow = _req(10.0, 12.0, 14.0, 101, role="grow", prompt=1000, cached=0)  # prefill 2 s: 200 J / 1000 tokens
    probe = _req(20.0, 20.5, 22.5, 201, cached=990)
    e = request_energy(grow, data)
    assert e.prefill_j == pytest.approx(200.0) and e.decode_j == pytest.approx(200.0) and e.decode_tokens == 100
    pt = point_energy([grow, probe], data)
    assert set(pt) == set(ENERGY_KEYS)
    assert pt["watts"] == approx(100.0)
    assert pt["j_per_token"] == approx(400.0 / 300)  # (200 + 200) J over (100 + 200) tokens
    assert pt["tokens_per_joule"] == pytest.approx(300 / 400.0, rel=1e-3)
    assert pt["idle_watts"] == approx(20.0)
    assert pt["j_per_token_net"] == approx((400.0 - 20.0 * 4.0) / 300)
    assert pt["prefill_j_per_token"] == approx(0.2)
    assert pt["source"] == "rapl" and pt["covers"] == "cpu_package"


def test_no_source_gives_nulls_never_zero() -> None:
    pt = point_energy([_req(1, 2, 3, 10)], energy_data([]))
    assert pt == dict.fromkeys(ENERGY_KEYS)
    assert level_energy([_req(1, 2, 3, 10)], energy_data([])) == dict.fromkeys(ENERGY_KEYS)


def test_a_failed_request_or_one_outside_the_samples_counts_nothing() -> None:
    data = energy_data(_rows([0, 10 * S], [0.0, 500.0]))
    bad = {**_req(1, 2, 3, 10), "status": "error"}
    late = _req(9, 9.5, 11, 10)  # ends after the last reading
    pt = point_energy([bad, late], data)
    assert pt["source"] == "rapl" and pt["watts"] is None and pt["j_per_token"] is None


def test_load_level_takes_the_span_of_overlapping_requests() -> None:
    data = energy_data(_rows([0, 100 * S], [100.0, 20_100.0]) + _rows([-2 * S, 0], [0.0, 100.0], phase="idle",
                                                                   channel="package-0"))
    reqs = [_req(10, 11, 19, 100), _req(12, 13, 20, 300)]  # span 10..20 s: 2000 J, 400 tokens
    lv = level_energy(reqs, data)
    assert lv["watts"] == pytest.approx(200.0) and lv["j_per_token"] == pytest.approx(5.0)
    assert lv["prefill_j_per_token"] is None
    assert lv["j_per_token_net"] == approx((2000 - 50 * 10) / 400)


# -- cost and prices -------------------------------------------------------------------------------
def test_cost_arithmetic() -> None:
    # 0.5 J/token: 1M tokens = 500 kJ = 0.1389 kWh; at 0.30/kWh = 0.04167
    assert electricity_per_mtok(0.5, 0.30) == pytest.approx(0.0416667, rel=1e-5)
    assert payback_mtok(2500, 3.0, 0.0416667) == pytest.approx(2500 / 2.9583333, rel=1e-6)
    assert payback_mtok(2500, 0.04, 0.05) is None


def test_cost_statement_on_the_card() -> None:
    points = [{"depth": 0, "energy": {"j_per_token": 0.9}}, {"depth": 4096, "energy": {"j_per_token": 0.5}}]
    prices = price_params("0.30/kWh", "3.00/Mtok", "2500")
    c = cost_figures(points, prices, depth=4096)
    assert c is not None
    assert c["statement"].startswith("1M tokens: 0.042 of electricity here, 3.00 by API; this rig pays for itself "
                                     "after 845.1 million tokens")
    assert "depth 4,096" in c["statement"] and c["payback_mtok"] == pytest.approx(845.07, abs=0.01)
    none = cost_figures([{"depth": 0, "energy": dict.fromkeys(ENERGY_KEYS)}], prices)
    assert none is not None and none["electricity_per_mtok"] is None
    assert "electricity unknown (no power source)" in none["statement"] and "payback unknown" in none["statement"]
    assert cost_figures(points, {}) is None
    euro = cost_figures(points, price_params("€0.25/kWh", None, None), depth=0)
    assert euro is not None and euro["statement"].startswith("1M tokens: €0.062 of electricity here")


@pytest.mark.parametrize(("text", "value", "cur"), [("0.30/kWh", 0.30, ""), ("$0.30/kWh", 0.30, "$"),
                                                    ("0.30 EUR/kWh", 0.30, "EUR"), ("300/MWh", 0.30, ""),
                                                    ("0.0003/Wh", 0.30, ""), ("0.3", 0.3, "")])
def test_electricity_prices(text: str, value: float, cur: str) -> None:
    p = parse_electricity_price(text)
    assert math.isclose(p.value, value) and p.currency == cur


@pytest.mark.parametrize(("text", "value"), [("3.00/Mtok", 3.0), ("$3/M", 3.0), ("0.003/ktok", 3.0),
                                             ("3", 3.0), ("0.000003/tok", 3.0)])
def test_api_prices(text: str, value: float) -> None:
    assert math.isclose(parse_api_price(text).value, value)


@pytest.mark.parametrize("text", ["abc/kWh", "0,30/kWh", "0.30/kW", "-1/kWh", "$0.3€/kWh", ""])
def test_bad_electricity_price_is_one_line(text: str) -> None:
    with pytest.raises(UsageError) as e:
        parse_electricity_price(text)
    assert "0.30/kWh" in e.value.one_line()


def test_rig_price() -> None:
    assert parse_rig_price("2500").value == 2500 and parse_rig_price("$2500").currency == "$"
    with pytest.raises(UsageError, match="one-off"):
        parse_rig_price("2500/month")
    with pytest.raises(UsageError):
        parse_rig_price("2,500")


# -- compare's energy ratio ------------------------------------------------------------------
def _side_rows(jpt: list[float], *, t0: float, depth: int = 0) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Requests of 101 tokens whose decode seconds at a steady 100 W give the wanted J/token."""
    reqs, t = [], t0
    for rep, j in enumerate(jpt):
        secs = j * 100 / 100.0  # J/token x 100 tokens / 100 W
        reqs.append({**_req(t, t + 0.1, t + 0.1 + secs, 101), "rep": rep, "depth": depth})
        t += 0.1 + secs + 0.05
    return reqs, _rows([int(t0 * S) - S, int(t * S) + S], [0.0, 100.0 * (t - t0 + 2)])


def test_compare_energy_ratio_with_its_interval() -> None:
    from rigbench.measure.energy_compare import energy_compare

    a, a_s = _side_rows([1.00, 1.02, 0.98, 1.01, 0.99, 1.00, 1.03, 0.97], t0=10)
    b, b_s = _side_rows([0.80, 0.81, 0.79, 0.80, 0.82, 0.78, 0.80, 0.81], t0=100)
    out = energy_compare(a, energy_data(a_s), b, energy_data(b_s))
    assert out["ratio"] == pytest.approx(0.805 / 1.0, rel=0.01)
    assert out["ci"][1] < 1.0 and out["verdict"] == "b_cheaper" and out["pairs"] == 8
    assert out["statement"].startswith("B spends less energy per token: 0.80")
    same = energy_compare(a, energy_data(a_s), a, energy_data(a_s))
    assert same["verdict"] == "no_difference" and same["ratio"] == pytest.approx(1.0)
    none = energy_compare(a, energy_data(a_s), b, energy_data([]))
    assert none["ratio"] is None and none["statement"] == "no energy ratio: no power readings for B"


def test_energy_block_names_a_source_that_is_there_but_unreadable() -> None:
    from rigbench.jobs.energy import energy_block

    info = {"checked": ["NVML", "amdsmi", "RAPL", "IOReport"], "sources": [],
            "problems": ["NVML: the nvidia-ml-py package is not installed: pip install 'rigbench[nvidia]'",
                         "RAPL: /sys/class/powercap/intel-rapl:0/energy_uj is readable by root only: run as root"]}
    b = energy_block(info, energy_data([]))
    assert b["statement"] == ("no power source here (checked NVML, amdsmi, RAPL, IOReport); RAPL: "
                              "/sys/class/powercap/intel-rapl:0/energy_uj is readable by root only: run as root")
    assert energy_block(None, energy_data([]))["statement"] == "not sampled for this run"
