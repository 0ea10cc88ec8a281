"""``rigbench inspect`` and ``rigbench advise`` through the CLI: JSON contract, table, and bad input."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from gguf_factory import deepseek_like, llama_like, write_gguf

from rigbench.cli import main

JSON_KEYS = {"architecture", "params_total", "params_active", "file_bytes", "active_bytes_per_token",
             "kv_bytes_per_token", "native_context", "max_context", "kv_cache_bytes", "decode_ceiling_tok_s",
             "context_check", "notes"}


@pytest.fixture(autouse=True)
def _no_debug(monkeypatch: pytest.MonkeyPatch) -> None:
    """``main(["--debug", ...])`` elsewhere sets a module global that outlives its test."""
    import rigbench.cli

    monkeypatch.setattr(rigbench.cli, "DEBUG", False)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def one_line_error(capsys: pytest.CaptureFixture[str], *args: str, code: int = 2) -> str:
    rc, out, err = run(capsys, *args)
    lines = [x for x in err.strip().splitlines() if x.strip()]
    assert rc == code, err
    assert len(lines) == 1 and "Traceback" not in err, err
    assert out == ""
    return lines[0]


@pytest.fixture(scope="module")
def dense(tmp_path_factory: pytest.TempPathFactory) -> Path:
    kv, tensors = llama_like(extra={"{arch}.rope.scaling.type": "yarn", "{arch}.rope.scaling.factor": 4.0,
                                    "{arch}.rope.scaling.original_context_length": 8192})
    return write_gguf(tmp_path_factory.mktemp("m") / "dense.gguf", "llama", kv, tensors)[0]


@pytest.fixture(scope="module")
def moe_shards(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return write_gguf(tmp_path_factory.mktemp("s") / "moe.gguf", "deepseek2", *deepseek_like(),
                      split_max_tensors=25)


def test_json_contract(capsys: pytest.CaptureFixture[str], dense: Path) -> None:
    code, out, _ = run(capsys, "inspect", str(dense), "--ctx", "16k", "--bandwidth", "800GB/s", "--json")
    d = json.loads(out)
    assert code == 0 and set(d) >= JSON_KEYS
    assert d["architecture"] == "llama" and d["ctx"] == 16384
    assert d["kv_cache_bytes"] == 16384 * 1024 and d["kv_bytes_per_token"] == 1024
    assert d["decode_ceiling_tok_s"] == round(800e9 / d["active_bytes_per_token"], 2)
    assert d["bandwidth"] == {"gb_s": 800.0, "source": "given", "kind": "given"}
    assert d["context_check"] == {"requested": 16384, "native": 8192, "max": 32768, "status": "extended"}
    assert any("caps a slot" in n for n in d["notes"])


def test_cache_type_and_chip(capsys: pytest.CaptureFixture[str], dense: Path) -> None:
    code, out, _ = run(capsys, "inspect", str(dense), "--cache-type", "q8_0", "--bandwidth", "M3 Ultra", "--json")
    d = json.loads(out)
    assert code == 0 and d["cache_type"] == "q8_0" and d["kv_bytes_per_token"] == 544
    assert d["bandwidth"]["source"] == "vendor figure for Apple M3 Ultra"
    assert d["context_check"]["status"] == "native"  # default: the native context


def test_without_bandwidth_there_is_no_ceiling(capsys: pytest.CaptureFixture[str], dense: Path) -> None:
    d = json.loads(run(capsys, "inspect", str(dense), "--json")[1])
    assert d["decode_ceiling_tok_s"] is None and any("--bandwidth" in n for n in d["notes"])


def test_split_model(capsys: pytest.CaptureFixture[str], moe_shards: list[Path]) -> None:
    d = json.loads(run(capsys, "inspect", str(moe_shards[0]), "--json")[1])
    assert len(d["shards"]) == len(moe_shards) > 1
    assert d["file_bytes"] == sum(p.stat().st_size for p in moe_shards)
    assert d["attention"] == "mla" and d["experts"] == 8 and d["params_active"] < d["params_total"]


def test_table_for_people(capsys: pytest.CaptureFixture[str], dense: Path) -> None:
    code, out, _ = run(capsys, "inspect", str(dense), "--ctx", "16384", "--bandwidth", "100")
    assert code == 0
    for line in ("architecture", "parameters", "read per token", "KV cache (f16)", "at 16,384 tokens", "native",
                 "check at 16,384", "extended", "decode ceiling", "100.0 GB/s  (given)"):
        assert line in out, line
    assert "note:" in out and "--rope-scale 4" in out


def test_bundled_model(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "inspect", "--json")
    d = json.loads(out)
    assert code == 0 and d["architecture"] == "gemma3" and d["layers"] == 18 and d["native_context"] == 32768
    assert 265e6 < d["params_total"] < 271e6 and 240e6 < d["file_bytes"] < 270e6
    assert d["sliding_window"] == 512 and d["kv_cache"][1]["cells"] == 1024


# ---- bad input: one line, non-zero exit, no traceback ---------------------------------------------------

def test_not_a_gguf(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    f = tmp_path / "x.gguf"
    f.write_bytes(b"PK\x03\x04 this is a zip")
    assert "not a GGUF" in one_line_error(capsys, "inspect", str(f))


def test_truncated_header(capsys: pytest.CaptureFixture[str], tmp_path: Path, dense: Path) -> None:
    f = tmp_path / "cut.gguf"
    f.write_bytes(dense.read_bytes()[:300])
    assert "truncated" in one_line_error(capsys, "inspect", str(f))


def test_missing_shard(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    paths = write_gguf(tmp_path / "m.gguf", "deepseek2", *deepseek_like(), split_max_tensors=25)
    paths[-1].unlink()
    assert "missing" in one_line_error(capsys, "inspect", str(paths[0]))


def test_directory_and_missing_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert "is a directory" in one_line_error(capsys, "inspect", str(tmp_path))
    assert "does not exist" in one_line_error(capsys, "inspect", str(tmp_path / "nope.gguf"))


def test_unreadable_file(capsys: pytest.CaptureFixture[str], tmp_path: Path, dense: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads every file")
    f = tmp_path / "locked.gguf"
    f.write_bytes(dense.read_bytes())
    f.chmod(0)
    assert "cannot read" in one_line_error(capsys, "inspect", str(f))


def test_unreadable_file_even_as_root(capsys: pytest.CaptureFixture[str], tmp_path: Path, dense: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "locked.gguf"
    f.write_bytes(dense.read_bytes())
    real_open = Path.open

    def deny(self: Path, *a: Any, **kw: Any) -> Any:
        if self == f:
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *a, **kw)

    monkeypatch.setattr(Path, "open", deny)
    line = one_line_error(capsys, "inspect", str(f))
    assert "cannot read" in line and "Permission denied" in line


@pytest.fixture(scope="module")
def sticker(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from gguf_factory import qwen3_30b_a3b_yarn

    return write_gguf(tmp_path_factory.mktemp("y") / "a3b.gguf", "qwen3moe", *qwen3_30b_a3b_yarn())[0]


def test_yarn_sticker_reports_the_trained_window(capsys: pytest.CaptureFixture[str], sticker: Path) -> None:
    code, out, _ = run(capsys, "inspect", str(sticker), "--ctx", "65536", "--json")
    d = json.loads(out)
    assert code == 0 and d["native_context"] == 32768 and d["max_context"] == 131072
    assert d["context_length"] == 131072 and d["granted_context"] == 65536
    assert d["context_check"] == {"requested": 65536, "native": 32768, "max": 131072, "status": "extended"}
    assert any("does not cap a slot at 32,768" in n for n in d["notes"])
    assert d["fill_s"] is None and d["fill"] is None  # no --prefill-tok-s: no projection
    code, out, _ = run(capsys, "inspect", str(sticker), "--ctx", "65536")
    assert "native (trained)" in out and "llama.cpp's n_ctx_train" in out and "extended" in out


def test_prefill_rates_project_the_fill_time(capsys: pytest.CaptureFixture[str], sticker: Path) -> None:
    code, out, _ = run(capsys, "inspect", str(sticker), "--ctx", "1M", "--prefill-tok-s", "86@5460,56.68@12810",
                       "--json")
    d = json.loads(out)
    from rigbench.measure.fill import fit_fill, samples_from_rates

    fit = fit_fill(samples_from_rates("86@5460,56.68@12810"))
    assert fit is not None and code == 0
    assert d["granted_context"] == 131072  # llama.cpp caps -c 1M at the file's context_length
    assert d["fill_s"] == {"native": round(fit.seconds(32768), 1), "granted": round(fit.seconds(131072), 1),
                           "1m": round(fit.seconds(1_000_000), 1)}
    assert d["fill"]["targets"] == {"native": 32768, "granted": 131072, "1m": 1_000_000}
    code, out, _ = run(capsys, "inspect", str(sticker), "--prefill-tok-s", "86@5460,56.68@12810")
    assert code == 0 and "time to fill" in out and "1,000,000 tokens" in out and "h " in out
    code, out, _ = run(capsys, "advise", str(sticker), "--ram", "1TB", "--bandwidth", "800",
                       "--prefill-tok-s", "200", "--json")
    m = json.loads(out)["models"][0]
    assert m["ctx"] == 32768 and m["fill_s"]["native"] == pytest.approx(32768 / 200, abs=0.1)
    assert m["fill_s"]["1m"] == pytest.approx(5000, abs=0.1) and any("floors" in n for n in m["notes"])


@pytest.mark.parametrize(("args", "words"), [
    (("--prefill-tok-s", "fast"), "is not a prefill rate"),
    (("--ctx", "lots"), "not a token count"),
    (("--cache-type", "q9_9"), "unknown cache type"),
    (("--bandwidth", "warp drive"), "unknown bandwidth or chip"),
])
def test_bad_options(capsys: pytest.CaptureFixture[str], dense: Path, args: tuple[str, ...], words: str) -> None:
    assert words in one_line_error(capsys, "inspect", str(dense), *args)


# ---- advise -------------------------------------------------------------------------------------------

def test_advise_json(capsys: pytest.CaptureFixture[str], dense: Path, moe_shards: list[Path]) -> None:
    code, out, _ = run(capsys, "advise", str(dense), str(moe_shards[0]), "--ram", "1GB", "--bandwidth", "800",
                       "--ctx", "4096", "--json")
    d: dict[str, Any] = json.loads(out)
    assert code == 0 and d["ram"] == {"bytes": 2**30, "source": "given"}
    assert d["summary"] == "memory decides what loads; bandwidth decides how fast"
    assert [m["path"] for m in d["models"]] == [str(dense), str(moe_shards[0])]
    for m in d["models"]:
        assert [o["cache_type"] for o in m["options"]] == ["f16", "q8_0", "q4_0"]
        assert m["ctx"] == 4096 and m["verdict"]
        # 1 GiB of RAM is all margin: nothing loads
        assert not any(o["fit"]["fits"] for o in m["options"])
    code, out, _ = run(capsys, "advise", str(dense), "--ram", "4GB", "--bandwidth", "800", "--json")
    m = json.loads(out)["models"][0]
    assert m["ctx"] == 8192 and all(o["fit"]["fits"] for o in m["options"])
    assert m["options"][0]["decode_ceiling_tok_s"] == round(800e9 / m["active_bytes_per_token"], 2)


def test_advise_table_measures_bandwidth(capsys: pytest.CaptureFixture[str], dense: Path) -> None:
    code, out, _ = run(capsys, "advise", str(dense), "--ram", "64GB")
    assert code == 0 and "memory decides what loads; bandwidth decides how fast" in out
    assert "measured on this host" in out and "loads at 8,192 tokens" in out


def test_advise_bad_ram(capsys: pytest.CaptureFixture[str], dense: Path) -> None:
    assert "not a memory size" in one_line_error(capsys, "advise", str(dense), "--ram", "lots")
