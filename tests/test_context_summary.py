"""The run summary's context on stored rows: a YaRN-sticker model, the boot log's KV line, the fill fit."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from gguf_factory import in_memory, qwen3_30b_a3b_yarn
from rich.console import Console

from rigbench.engines.bootlog import parse_boot_log
from rigbench.jobs.session import merge_gguf_facts
from rigbench.jobs.summary import run_summary
from rigbench.model.facts import facts_from_gguf
from rigbench.report.card import card
from rigbench.store import open_store
from rigbench.types import EngineSpec, RequestRecord

A, B = 1 / 800, 4e-8  # the law the fake server prefills by: 800 tok/s of weights, plus attention

LOG = """print_info: n_ctx_train = 131072
print_info: rope scaling = yarn
print_info: n_ctx_orig_yarn = 32768
llama_context: n_ctx_seq = 65536
llama_kv_cache: size = 6144.00 MiB ( 65536 cells,  48 layers,  1/1 seqs), K (f16): 3072.00 MiB, V (f16): 3072.00 MiB
slot load_model: id  0 | task -1 | new slot, n_ctx = 65536
"""


def rec(start: int, end: int, *, server: bool) -> RequestRecord:
    secs = A * (end - start) + B * (end * end - start * start)
    first = int(secs * 1e9)
    timings: dict[str, float] = {"prompt_n": end - start, "cache_n": start, "predicted_n": 8}
    if server:
        timings["prompt_per_second"] = (end - start) / secs
    return RequestRecord(status="ok", t_sent_ns=0, t_first_token_ns=first, t_first_content_ns=first,
                         t_last_token_ns=first + 10**8, t_end_ns=first + 10**8 + 1, prompt_tokens=end,
                         completion_tokens=8, cached_tokens=start, reasoning_tokens=0, finish_reason="length",
                         timings=timings)


def make_run(db: Path, depths: list[int], *, server: bool = True) -> tuple[dict, str]:
    s = open_store(db)
    log = parse_boot_log(LOG)
    facts = {"kind": "embedded", "granted_context": 65536, "requested_context": 65536, "n_ctx_train": 131072,
             "capped": False, "log_facts": log}
    gguf = facts_from_gguf(in_memory("qwen3moe", *qwen3_30b_a3b_yarn())).to_json()
    model = merge_gguf_facts({"name": "a3b", "native_context": 131072, "path": "/m/a3b.gguf"}, gguf)
    rid = s.create_run(kind="run", spec=EngineSpec(kind="embedded", flags=(("c", "65536"),)), params={},
                       command="rigbench run -c 65536", machine={"hostname": "t"}, tool_version="0")
    s.update_run(rid, server_facts=facts)
    s.set_model(rid, model)
    prev = 0
    for d in depths:
        end = d + 30
        s.add_request(rid, rec(prev, end, server=server), phase="speed", depth=d, rep=0, role="grow",
                      extra={"cache_verified": True if prev else None})
        prev = end
    s.finish_run(rid, "complete")
    out = run_summary(s, rid)
    s.close()
    buf = io.StringIO()
    Console(file=buf, width=200, color_system=None).print(card(out))
    return out.to_json(), buf.getvalue()  # the --json contract


def test_sticker_run_counts_the_trained_window_and_projects_the_fill(tmp_path: Path) -> None:
    out, text = make_run(tmp_path / "r.db", [0, 2048, 8192, 16384])
    c = out["context"]
    assert out["model"]["native_context"] == c["native"] == 32768 and c["max"] == 131072
    assert c["granted"] == 65536 and c["status"] == "extended" and c["capped"] is False
    assert c["kv_cache_mib"] == 6144.0 and c["kv_cache_cells"] == 65536 and c["n_ctx_train"] == 131072
    assert c["sequence"] == ["requested 65,536", "KV cache allocated 6,144.00 MiB (65,536 cells)",
                             "slot granted 65,536",
                             "native 32,768 (up to 131,072 declared through YaRN x4: an extension)"]
    assert any("does not cap a slot at 32,768" in n for n in c["notes"])
    assert any("32,768 past the trained window" in n for n in c["notes"])
    assert out["verdict"]["context_ok"] is False and "native context 32,768" in out["verdict"]["summary"]
    # the fit recovers the law the rows were made by, and projects it
    assert c["fill"]["basis"] == "server" and c["fill"]["skipped_depths"] == [0]
    for key, n in (("native", 32768), ("granted", 65536), ("1m", 1_000_000)):
        assert c["fill_s"][key] == pytest.approx(A * n + B * n * n, rel=1e-3)
        lo, hi = c["fill"]["range_s"][key]
        assert lo <= c["fill_s"][key] <= hi
    flat = " ".join(text.split())
    assert "requested 65,536 → KV cache allocated 6,144.00 MiB (65,536 cells) → slot granted 65,536" in flat
    assert "Fill time" in flat and "1,000,000 tokens 11h 28m" in flat  # 1,250 s + 40,000 s
    assert "does not cap a slot at 32,768" in flat


def test_one_usable_depth_has_null_fill_times(tmp_path: Path) -> None:
    out, text = make_run(tmp_path / "r.db", [0, 1024], server=False)
    assert out["context"]["fill_s"] == {"native": None, "granted": None, "1m": None}
    assert "no fill-time projection" in " ".join(text.split())
