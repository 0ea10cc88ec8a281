"""Bandwidth: numbers as given, vendor figures by chip name, and the host probe."""

from __future__ import annotations

import re

import pytest

from rigbench.errors import UsageError
from rigbench.model.bandwidth import measure_bandwidth, parse_bandwidth, resolve_bandwidth, summarize_runs
from rigbench.model.chips import CHIPS, find_chip, normalize, suggest


@pytest.mark.parametrize(("text", "gb_s"), [
    ("800", 800.0), ("800GB/s", 800.0), ("800 GB/s", 800.0), ("800gb/s", 800.0), ("3.35TB/s", 3350.0),
    ("3.35 TB/s", 3350.0), ("900MB/s", 0.9), ("273GBps", 273.0), (".5TB/s", 500.0),
])
def test_numbers(text: str, gb_s: float) -> None:
    assert parse_bandwidth(text) == pytest.approx(gb_s)
    bw = resolve_bandwidth(text)
    assert bw.gb_s == pytest.approx(gb_s) and bw.source == "given" and bw.bytes_per_s == pytest.approx(gb_s * 1e9)


@pytest.mark.parametrize(("text", "name", "gb_s"), [
    ("M3 Ultra", "Apple M3 Ultra", 819), ("apple m4 max", "Apple M4 Max", 546), ("M1", "Apple M1", 68.25),
    ("h100", "H100 SXM", 3350), ("H200", "H200", 4800), ("RTX 4090", "RTX 4090", 1008),
    ("geforce rtx 5090", "RTX 5090", 1792), ("rtx3090", "RTX 3090", 936), ("A100", "A100 80GB SXM", 2039),
    ("strix halo", "AMD Strix Halo (Ryzen AI Max+ 395)", 256),
    ("Ryzen AI Max+ 395", "AMD Strix Halo (Ryzen AI Max+ 395)", 256),
    ("DGX Spark", "DGX Spark (GB10)", 273),
])
def test_chips_by_name(text: str, name: str, gb_s: float) -> None:
    bw = resolve_bandwidth(text)
    assert bw.gb_s == gb_s and bw.source == f"vendor figure for {name}" and bw.kind == "vendor"


def test_chip_table_covers_the_families() -> None:
    for gen in range(1, 6):
        for tier in ("", " Pro", " Max"):
            assert find_chip(f"M{gen}{tier}") is not None, f"M{gen}{tier}"
    for ultra in ("M1 Ultra", "M2 Ultra", "M3 Ultra"):
        assert find_chip(ultra) is not None
    for series in (30, 40, 50):
        assert find_chip(f"RTX {series}90") is not None and find_chip(f"RTX {series}60") is not None
    keys = [k for c in CHIPS for k in c.lookup_names()]
    assert len(keys) == len(set(keys)), "two chips share a lookup name"
    assert all(c.gb_s > 0 for c in CHIPS)


def test_unknown_chip_suggests_near_names() -> None:
    with pytest.raises(UsageError) as exc:
        resolve_bandwidth("M3 Ultar")
    assert "M3 Ultra" in exc.value.one_line()
    assert suggest("rtx 409") and normalize("NVIDIA GeForce RTX 4090") == "4090"
    for bad in ("-5", "0", "0GB/s"):
        with pytest.raises(UsageError):
            resolve_bandwidth(bad)


def test_summarize_runs() -> None:
    steady = summarize_runs([100.0, 97.0, 99.0])
    assert steady.gb_s == 100.0 and steady.spread == pytest.approx(0.03) and steady.warning is None
    assert steady.source == "measured on this host (best of 3, spread 3.0%)"
    noisy = summarize_runs([100.0, 85.0])
    assert noisy.warning and "15%" in noisy.warning
    with pytest.raises(ValueError):
        summarize_runs([])


def test_measure_this_host() -> None:
    bw = measure_bandwidth(runs=3, buffer_bytes=64 << 20, target_s=0.02)
    assert bw.kind == "measured" and len(bw.runs_gb_s) == 3 and bw.gb_s == max(bw.runs_gb_s) > 0
    assert re.fullmatch(r"measured on this host \(best of 3, spread \d+\.\d%\)", bw.source)
    assert bw.to_json()["runs_gb_s"] and bw.note and "GPU" in bw.note
