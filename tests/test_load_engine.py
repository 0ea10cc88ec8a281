"""``rigbench load`` on the real embedded engine (llama.cpp through xllamacpp, the bundled
model) with two slots: both levels measured from llama.cpp's own counts, and the best level is the
one with the highest aggregate. Whether two streams beat one is a speed question for a quiet
machine (bench/load_overhead.py, docs/load.md), not for a test on shared CI cores."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest

from rigbench.store import open_store

pytestmark = pytest.mark.engine


def test_two_slots_two_levels_on_the_embedded_engine(tmp_path: Path) -> None:
    from rigbench.cli import main

    db = tmp_path / "r.db"
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = main(["load", "-np", "2", "-c", "2048", "--concurrency", "1,2", "--gen-tokens", "32", "--depth", "64",
                     "--requests", "2", "--slo-decode-tok-s", "1", "--json", "--db", str(db)])
    assert code == 0
    out = json.loads(buf.getvalue())
    assert out["kind"] == "load" and out["status"] == "complete"
    one, two = out["levels"]
    assert (one["concurrency"], two["concurrency"]) == (1, 2)
    assert one["requests_ok"] == 2 and two["requests_ok"] == 4 and one["requests_failed"] == two["requests_failed"] == 0
    assert one["aggregate_tok_s"] > 0 and two["aggregate_tok_s"] > 0
    best = max((one, two), key=lambda lv: lv["aggregate_tok_s"])
    assert out["best"]["concurrency"] == best["concurrency"]
    store = open_store(db)
    rows = store.requests(out["run_id"], phase="load")
    store.close()
    # llama.cpp's own counts: every request generated exactly what it asked for
    assert {r["completion_tokens"] for r in rows} == {32}
    assert all((r["timings"] or {}).get("predicted_n") == 32 for r in rows)
