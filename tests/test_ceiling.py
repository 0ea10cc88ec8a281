from __future__ import annotations

import pytest

from rigbench.jobs.ceiling import chip_for_device
from rigbench.jobs.summary import context_statement, context_status
from rigbench.measure.ceiling import annotate_points, bytes_per_token_at, ceiling_at, ceiling_statement


def basis(gb_s: float, active: float, terms: list | None = None) -> dict:
    return {"bandwidth": {"gb_s": gb_s, "source": "given"}, "active_bytes_per_token": active, "state_bytes": 0,
            "kv_terms": terms or []}


def test_seed_napkin_math() -> None:
    assert ceiling_at(basis(800, 16e9), 0) == pytest.approx(50.0)
    assert ceiling_at(basis(800, 17.5e9), 0) == pytest.approx(45.7, abs=0.05)


def test_kv_read_grows_with_depth_and_windows_cap_it() -> None:
    b = basis(100, 1e9, [[1000, None], [500, 512]])
    assert bytes_per_token_at(b, 0) == 1e9
    assert bytes_per_token_at(b, 4096) == 1e9 + 1000 * 4096 + 500 * 512
    assert ceiling_at(b, 4096) < ceiling_at(b, 0)


def test_points_get_percent_of_ceiling_and_a_plain_statement() -> None:
    pts = [{"depth": 0, "decode_tok_s": 18.0}, {"depth": 1024, "decode_tok_s": None}]
    b = basis(800, 16e9)
    annotate_points(pts, b)
    assert pts[0]["ceiling_tok_s"] == 50.0 and pts[0]["pct_of_ceiling"] == 36.0
    assert pts[1]["pct_of_ceiling"] is None
    s = ceiling_statement(b, pts)
    assert s is not None and "not bandwidth-bound" in s["statement"] and "given" in s["statement"]
    annotate_points(pts, None)
    assert pts[0]["ceiling_tok_s"] is None and ceiling_statement(None, pts) is None


def test_device_names_find_their_chip() -> None:
    assert chip_for_device("NVIDIA H100 80GB HBM3").gb_s == 3350
    assert chip_for_device("NVIDIA GeForce RTX 4090").gb_s == 1008
    assert chip_for_device("Apple M3 Ultra").gb_s == 819
    assert chip_for_device("Some Unknown Accelerator") is None


def test_context_reality_check_in_words() -> None:
    assert context_statement(1000192, 202752, 202752, True) == \
        "requested 1,000,192; trained 202,752; the server capped the slot at 202,752"
    assert "extrapolation" in context_statement(None, 32768, 65536, False)
    assert "declared rope scaling" in context_statement(None, 32768, 65536, False, 131072)
    assert context_status(1000192, 202752, None) == "beyond"
    assert context_status(100000, 32768, 131072) == "extended"
    assert context_status(8192, 32768, None) == "native"
    assert context_status(None, None, None) == "unknown"
