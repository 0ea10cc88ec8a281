"""The lab's pure parts: the technique plan, llama.cpp's flag names (against the real
binary's --help where one is available), the synthetic acceptance, the identity check's
tie rule, the figures and verdicts from request rows, and the JSON shape."""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from rigbench.errors import UsageError
from rigbench.lab.figures import acceptance, arm_figures
from rigbench.lab.identity import first_divergence, tie_verdict, token_start
from rigbench.lab.summary import short_quant, summary_from
from rigbench.lab.techniques import (
    Arm,
    arm_settings,
    embedded_speculative,
    help_options,
    help_spec_types,
    parse_acceptances,
    parse_draft_max,
    parse_kv,
    parse_lookup,
    plan_arms,
    resolve_names,
    server_args,
    synth_rates,
    type_values,
)
from rigbench.lab.verdict import arm_verdict, assign_verdicts, speed_words, technique_table
from rigbench.lab.workload import TASKS, WORKS, lab_ask, task_for
from rigbench.report.lab import lab_card
from rigbench.results import LabResult

# llama-server --help of llama.cpp's spec-* era (this excerpt is from the build the lab was made with)
NEW_HELP = """\
-t,    --threads N                      number of CPU threads to use during generation (default: -1)
--spec-draft-n-max N                    number of tokens to draft for speculative decoding (default: 3)
                                        (env: LLAMA_ARG_SPEC_DRAFT_N_MAX)
--spec-draft-n-min N                    minimum number of draft tokens to use for speculative decoding
                                        (default: 0)
--spec-synth-rates P0,P1,...            comma-separated unconditional per-position synthetic acceptance
                                        probabilities (benchmarking only)
--spec-draft-p-min, --draft-p-min P     minimum speculative decoding probability (greedy) (default: 0.00)
--spec-draft-model, -md, --model-draft FNAME
                                        draft model for speculative decoding (default: unused)
--spec-type none,draft-simple,draft-eagle3,ngram-simple,ngram-map-k,ngram-map-k4v,ngram-mod,ngram-cache
                                        comma-separated list of types of speculative decoding to use (default:
                                        none)
--spec-ngram-mod-n-min N                minimum number of ngram tokens to use for ngram-based speculative
--spec-ngram-mod-n-max N                maximum number of ngram tokens to use for ngram-based speculative
--spec-ngram-simple-size-n N            ngram size N for ngram-simple speculative decoding, length of lookup
--spec-ngram-simple-size-m N            ngram size M for ngram-simple speculative decoding, length of draft
--spec-ngram-map-k-size-m N             ngram size M for ngram-map-k speculative decoding, length of draft
--draft, --draft-n, --draft-max N       the argument has been removed. use --spec-draft-n-max or
                                        --spec-ngram-mod-n-max
--draft-min, --draft-n-min N            the argument has been removed. use --spec-draft-n-min or
"""
# an older llama-server: draft flags without the spec- prefix, no n-gram lookup in the server
OLD_HELP = """\
-md,   --model-draft FNAME              draft model for speculative decoding (default: unused)
--draft, --draft-n, --draft-max N       number of tokens to draft for speculative decoding (default: 16)
--draft-min, --draft-n-min N            minimum number of draft tokens to use for speculative decoding
--draft-p-min P                         minimum speculative decoding probability (greedy) (default: 0.8)
"""


def test_plan_arms_baseline_first_and_a_sweep_per_technique() -> None:
    arms = plan_arms(draft="/m/d.gguf", lookup=("ngram-simple", "ngram-cache"), kv=("q8_0",), draft_max=None,
                     synthetic=(0.5,), model="/m/t.gguf")
    names = [a.name for a in arms]
    assert names[0] == "baseline"
    assert names[1:] == ["draft n3", "draft n8", "ngram-simple n16", "ngram-simple n48", "ngram-cache", "kv q8_0",
                         "synthetic 0.50"]
    kv = next(a for a in arms if a.kv)
    assert kv.lossy and not kv.speculative and kv.flags == {"ctk": "q8_0", "ctv": "q8_0", "fa": "on"}
    syn = arms[-1]
    assert syn.works == ("open",) and syn.draft_model == "/m/d.gguf" and syn.draft_n_max == 8
    swept = plan_arms(draft="/m/d.gguf", lookup=("ngram-mod",), kv=(), draft_max=(4,), synthetic=(), model="/m")
    assert [a.name for a in swept] == ["baseline", "draft n4", "ngram-mod n4"]
    assert Arm.from_json(swept[2].to_json()) == swept[2]


def test_command_line_values_are_checked() -> None:
    assert parse_lookup(None) == ("ngram-simple",) and parse_lookup("ngram-mod, ngram-cache") == (
        "ngram-mod", "ngram-cache")
    assert parse_kv("q8_0,q4_0") == ("q8_0", "q4_0") and parse_kv(None) == ()
    assert parse_draft_max("4,16,4") == (4, 16) and parse_draft_max(None) is None
    assert parse_acceptances("0.2,0.8") == (0.2, 0.8)
    for bad in (lambda: parse_lookup("ngram-fast"), lambda: parse_kv("f16"), lambda: parse_kv("q3_k"),
                lambda: parse_draft_max("0"), lambda: parse_draft_max("x"), lambda: parse_acceptances("1.5")):
        with pytest.raises(UsageError):
            bad()


@pytest.mark.parametrize("target", [0.0, 0.2, 0.5, 0.8, 1.0])
@pytest.mark.parametrize("n_max", [1, 3, 8])
def test_synthetic_rates_have_the_asked_mean_and_a_drafters_shape(target: float, n_max: int) -> None:
    rates = synth_rates(target, n_max)
    assert len(rates) == n_max
    assert sum(rates) / n_max == pytest.approx(target, abs=1e-4)
    assert all(a >= b for a, b in itertools.pairwise(rates))  # llama.cpp wants them non-increasing
    assert all(0.0 <= r <= 1.0 for r in rates)


def test_settings_per_technique() -> None:
    draft = Arm("draft n8", "draft", "Draft model", "draft-simple", 8, "/m/d.gguf")
    assert arm_settings(draft) == {"type": "draft-simple", "draft_model": "/m/d.gguf", "draft_n_max": 8}
    mod = Arm("ngram-mod n16", "lookup", "Prompt lookup ngram-mod", "ngram-mod", 16)
    assert arm_settings(mod) == {"type": "ngram-mod", "ngram-mod.n_max": 16, "ngram-mod.n_min": 16}
    assert arm_settings(Arm("ngram-cache", "lookup", "x", "ngram-cache")) == {"type": "ngram-cache"}
    # llama.cpp's ngram-simple drafts nothing when the draft is shorter than its 12-token lookup key
    short = Arm("ngram-simple n6", "lookup", "x", "ngram-simple", 6)
    assert arm_settings(short) == {"type": "ngram-simple", "ngram-simple.size_m": 6, "ngram-simple.size_n": 6}
    assert arm_settings(Arm("ngram-simple n16", "lookup", "x", "ngram-simple", 16)) == {
        "type": "ngram-simple", "ngram-simple.size_m": 16}
    assert arm_settings(Arm("kv q8_0", "kv", "KV cache q8_0", kv="q8_0")) == {}
    with pytest.raises(UsageError, match="draft model"):
        arm_settings(Arm("draft n3", "draft", "Draft model", "draft-simple", 3))


def test_names_from_help_text_new_and_old() -> None:
    new = resolve_names(NEW_HELP)
    assert new["draft_n_max"] == "--spec-draft-n-max"  # --draft-max is listed, but as removed
    assert new["draft_model"] == "--spec-draft-model" and new["type"] == "--spec-type"
    assert new["ngram-simple.size_m"] == "--spec-ngram-simple-size-m"
    assert server_args(Arm("ngram-simple n6", "lookup", "x", "ngram-simple", 6), new)[2:] == [
        "--spec-ngram-simple-size-m", "6", "--spec-ngram-simple-size-n", "6"]
    assert help_options(NEW_HELP)["--draft-max"].removed
    assert "ngram-mod" in help_spec_types(NEW_HELP) and "none" not in help_spec_types(NEW_HELP)
    old = resolve_names(OLD_HELP)
    assert old["draft_model"] == "--model-draft" and old["draft_n_max"] == "--draft-max" and "type" not in old
    draft = Arm("draft n8", "draft", "Draft model", "draft-simple", 8, "/m/d.gguf")
    assert server_args(draft, new, help_spec_types(NEW_HELP)) == [
        "--spec-type", "draft-simple", "--spec-draft-model", "/m/d.gguf", "--spec-draft-n-max", "8"]
    # no --spec-type: the draft model alone turns speculation on
    assert server_args(draft, old) == ["--model-draft", "/m/d.gguf", "--draft-max", "8"]
    with pytest.raises(UsageError, match="no option"):
        server_args(Arm("ngram-simple n16", "lookup", "x", "ngram-simple", 16), old)
    syn = Arm("synthetic 0.50", "synthetic", "Synthetic acceptance", "draft-simple", 2, "/m/d.gguf", synthetic=0.5)
    argv = server_args(syn, new)
    assert argv[argv.index("--spec-synth-rates") + 1].count(",") == 1
    assert resolve_names("")["draft_n_max"] == "--spec-draft-n-max"  # no help: the newest names


def _binary() -> str | None:
    path = os.environ.get("RIGBENCH_LLAMA_SERVER") or shutil.which("llama-server")
    return path if path and Path(path).exists() else None


@pytest.mark.skipif(_binary() is None, reason="no llama-server binary (set RIGBENCH_LLAMA_SERVER)")
def test_names_resolve_against_the_real_binary() -> None:
    binary = _binary()
    assert binary is not None
    text = subprocess.run([binary, "--help"], capture_output=True, text=True, timeout=60).stdout
    names, types = resolve_names(text), help_spec_types(text)
    opts = help_options(text)
    for arm in plan_arms(draft="/m/d.gguf", lookup=("ngram-simple", "ngram-mod"), kv=(), draft_max=(4,),
                         synthetic=(0.5,), model="/m/t.gguf")[1:]:
        argv = server_args(arm, names, types)
        flags = argv[::2]
        assert flags and all(f in opts and not opts[f].removed for f in flags), argv


def test_embedded_speculative_dict_takes_effect_on_xllamacpp_params() -> None:
    xl = pytest.importorskip("xllamacpp")
    values = type_values(dict(xl.common_speculative_type.__members__))
    assert {"draft-simple", "ngram-simple", "ngram-mod"} <= set(values)
    arm = Arm("synthetic 0.50", "synthetic", "Synthetic acceptance", "draft-simple", 4, "/m/d.gguf", synthetic=0.5)
    spec = embedded_speculative(arm, values)
    params = xl.CommonParams()
    for key, value in spec.items():  # as engines/_embedded_worker.py applies them
        target = params.speculative
        *path, last = key.split(".")
        for p in path:
            target = getattr(target, p)
        setattr(target, last, value)
    assert int(params.speculative.types[0]) == values["draft-simple"]
    short = embedded_speculative(Arm("ngram-simple n6", "lookup", "x", "ngram-simple", 6), values)
    assert short["ngram_simple.size_n"] == 6 and short["ngram_simple.size_m"] == 6
    params.speculative.ngram_simple.size_n = short["ngram_simple.size_n"]
    assert params.speculative.ngram_simple.size_n == 6
    assert params.speculative.draft.mparams.path == "/m/d.gguf" and params.speculative.draft.n_max == 4
    assert list(params.speculative.synth_rates) == pytest.approx(synth_rates(0.5, 4))
    with pytest.raises(UsageError):
        embedded_speculative(Arm("x", "lookup", "x", "ngram-new"), values)


def test_workload_covers_both_kinds_and_rotates_tasks() -> None:
    assert set(TASKS) == set(WORKS) and all(len(TASKS[w]) == 4 for w in WORKS)
    assert [task_for("open", r).id for r in range(5)][4] == task_for("open", 0).id
    ask = lab_ask(TASKS["grounded"][1], "completion", background="Once upon a time.", max_tokens=64)
    assert ask.text is not None and "Background reading" in ask.text and ask.text.endswith("```python\n")
    chat = lab_ask(TASKS["open"][1], "chat", max_tokens=64)
    assert chat.messages == [{"role": "user", "content": TASKS["open"][1].text}]
    grounded_text = " ".join(t.text for t in TASKS["grounded"])
    assert "Elizabeth" in grounded_text or "Darcy" in grounded_text or "Bennet" in grounded_text  # the novel


def test_identity_helpers() -> None:
    assert first_divergence("abc", "abc") is None
    assert first_divergence("the cat", "the cow") == 5 and first_divergence("ab", "abc") == 2
    pieces = [{"piece": "the"}, {"piece": " c"}, {"piece": "at"}]
    assert token_start(pieces, 4) == (3, 1) and token_start(pieces, 5) == (5, 2)
    tie = tie_verdict([(" cat", -1.00), (" cow", -1.05), (" dog", -3.0)], " cat sat", " cow sat")
    assert tie["identity"] == "near-tie" and tie["margin_nats"] == pytest.approx(0.05)
    far = tie_verdict([(" cat", -0.1), (" dog", -3.0)], " cat", " dog")
    assert far["identity"] == "differs"
    missing = tie_verdict([(" cat", -0.1)], " cat", " emu")
    assert missing["identity"] == "differs" and "not among" in missing["detail"]


# -- figures and verdicts from rows ---------------------------------------------------------------
def _row(role: str, work: str, rep: int, tok_s: float, *, pair: str | None = None, drafted: int | None = None,
         accepted: int | None = None, identity: str | None = None, identical: bool | None = None,
         depth: int = 0, gen: int = 101) -> dict[str, Any]:
    first = 1_000_000_000
    last = first + int((gen - 1) / tok_s * 1e9)
    timings: dict[str, Any] = {"predicted_n": gen}
    if drafted is not None:
        timings.update(draft_n=drafted, draft_n_accepted=accepted)
    extra: dict[str, Any] = {"work": work, "stage": "measure", "technique": "x"}
    if pair:
        extra["pair"] = pair
    if identity:
        extra["identity"] = identity
    if identical is not None:
        extra["identical"] = identical
    return {"phase": "lab", "role": role, "depth": depth, "rep": rep, "status": "ok", "t_sent_ns": 0,
            "t_first_token_ns": first, "t_last_token_ns": last, "completion_tokens": gen, "timings": timings,
            "extra": extra}


def _lab_rows(arm: str, speed: dict[str, float], *, drafted: dict[str, tuple[int, int]] | None = None,
              identity: str = "identical", reps: int = 8) -> list[dict[str, Any]]:
    rows = []
    for work, factor in speed.items():
        for rep in range(reps):
            base = 40.0 + (rep % 3)
            rows.append(_row("baseline", work, rep, base, pair=arm))
            d, a = (drafted or {}).get(work, (None, None))
            rows.append(_row(arm, work, rep, base * factor * (1 + 0.01 * (rep % 2)), drafted=d, accepted=a,
                             identity=identity, identical=identity == "identical"))
    return rows


LOOKUP = Arm("ngram-simple n16", "lookup", "Prompt lookup ngram-simple", "ngram-simple", 16)
DRAFT = Arm("draft n8", "draft", "Draft model", "draft-simple", 8, "/m/d.gguf")
KV = Arm("kv q8_0", "kv", "KV cache q8_0", kv="q8_0")


def test_figures_pair_each_arm_with_its_own_baseline_requests() -> None:
    rows = _lab_rows(LOOKUP.name, {"grounded": 1.8, "open": 1.0},
                     drafted={"grounded": (50, 43), "open": (10, 2)}) + _lab_rows(KV.name, {"grounded": 0.5})
    f = arm_figures(LOOKUP, rows)
    cells = {c["work"]: c for c in f["cells"]}
    assert set(cells) == {"grounded", "open"} and cells["grounded"]["pairs"] == 8
    g = cells["grounded"]
    assert g["speedup"] == pytest.approx(1.8, rel=0.02) and g["ci"][0] > 1.0 and g["paired_verdict"] == "b_faster"
    assert g["draft_n"] == 400 and g["draft_n_accepted"] == 344 and g["acceptance"] == pytest.approx(0.86)
    assert g["accepted_share"] == pytest.approx(344 / (8 * 101), abs=1e-3)
    assert cells["open"]["acceptance"] == pytest.approx(0.2) and g["identity"] == "identical"
    assert acceptance([_row("x", "open", 0, 10.0)], speculative=True)["draft_n"] == 0  # nothing drafted: 0, not None
    assert acceptance([_row("x", "open", 0, 10.0)])["acceptance"] is None


def test_verdict_rules() -> None:
    def w(verdict: str, ratio: float = 1.2) -> dict[str, Any]:
        return {"speedup": ratio, "paired_verdict": verdict}

    short = [0, 1024]
    assert arm_verdict({"grounded": w("b_faster"), "open": w("no_difference")}, depths=short,
                       identity="identical") == "grounded tasks only"
    assert arm_verdict({"grounded": w("b_faster"), "open": w("a_faster")}, depths=short,
                       identity="near-tie") == "grounded tasks only"
    assert arm_verdict({"grounded": w("b_faster"), "open": w("b_faster")}, depths=short,
                       identity="identical") == "faster on all work"
    assert arm_verdict({"grounded": w("no_difference"), "open": w("b_faster")}, depths=short,
                       identity="identical") == "open tasks only"
    assert arm_verdict({"grounded": w("a_faster", 0.8), "open": w("no_difference")}, depths=short,
                       identity="identical") == "slower than baseline"
    assert arm_verdict({"grounded": w("no_difference"), "open": w("no_difference")}, depths=short,
                       identity="lossy") == "no gain at short context"
    assert arm_verdict({"open": w("no_difference")}, depths=[0, 32768], identity="lossy") == "no gain"
    assert arm_verdict({"open": w("b_faster")}, depths=short, identity="differs") == "output differs"
    assert arm_verdict({"open": w("b_faster")}, depths=short, identity="lossy", gate_passed=False) == "quality loss"
    assert arm_verdict({"open": w("b_faster")}, depths=short, identity=None, synthetic=True).startswith("synthetic")
    assert speed_words(0.88) == "12% slower" and speed_words(1.523) == "1.52x" and speed_words(None) == "—"


def test_best_general_case_is_the_fastest_of_those_faster_everywhere() -> None:
    def arm(name: str, ratio: float) -> dict[str, Any]:
        fast = {"speedup": ratio, "paired_verdict": "b_faster", "decode_tok_s": 40 * ratio, "ci": [1.1, 2.0]}
        return {"arm": {"name": name, "label": name, "synthetic": None, "draft_n_max": 4},
                "by_work": {"grounded": fast, "open": fast}, "overall": fast, "depths": [0], "identity": "identical"}

    arms = [arm("a", 1.3), arm("b", 1.5)]
    assign_verdicts(arms)
    assert [a["verdict"] for a in arms] == ["faster on all work", "best general case"]
    table = technique_table({"decode_tok_s": 40.0}, arms, "m Q4")
    assert [r["technique"] for r in table] == ["Baseline", "a, n_max 4", "b, n_max 4"]
    assert table[2]["speed_words"] == "1.50x" and table[0]["speedup"] == 1.0


def _summary(rows: list[dict[str, Any]], arms: list[Arm], extra: dict[str, Any] | None = None) -> dict[str, Any]:
    return summary_from(rows, arms, extra or {}, "Gemma 3 270m Q4_K_M")


def test_json_shape_of_a_lab() -> None:
    rows = (_lab_rows(LOOKUP.name, {"grounded": 1.8, "open": 1.0}, drafted={"grounded": (50, 43), "open": (0, 0)})
            + _lab_rows(DRAFT.name, {"grounded": 0.6, "open": 0.6}, drafted={"grounded": (64, 60), "open": (64, 62)},
                        identity="near-tie")
            + _lab_rows(KV.name, {"grounded": 1.0, "open": 1.0}))
    gate = {"gate": {"baseline": {"scores": {"p1": 4.0, "p2": 2.0}}, KV.name: {"scores": {"p1": 1.0, "p2": 1.0}}}}
    s = _summary(rows, [LOOKUP, DRAFT, KV], gate)
    assert set(s["baseline"]) >= {"decode_tok_s"} and s["baseline"]["decode_tok_s"] > 0
    for r in s["rows"]:
        assert set(r) >= {"technique", "work", "depth", "decode_tok_s", "speedup", "ci", "acceptance", "identical",
                          "verdict"}
        assert r["work"] in ("grounded", "open") and len(r["ci"]) == 2
    verdicts = {r["arm"]: r["verdict"] for r in s["rows"]}
    assert verdicts == {LOOKUP.name: "grounded tasks only", DRAFT.name: "slower than baseline",
                        KV.name: "quality loss"}
    lookup_table = next(r for r in s["table"] if r["arm"] == LOOKUP.name)
    assert lookup_table["work"] == "grounded" and lookup_table["acceptance"] == pytest.approx(0.86)
    assert next(r for r in s["rows"] if r["arm"] == DRAFT.name)["identity"] == "near-tie"


def test_card_renders_a_lab() -> None:
    rows = _lab_rows(LOOKUP.name, {"grounded": 1.8, "open": 1.0}, drafted={"grounded": (50, 43), "open": (4, 1)})
    body = _summary(rows, [LOOKUP])
    s = {**body, "lab_id": 7, "status": "complete", "target": "Gemma 3 270m Q4_K_M", "engine": {"kind": "embedded"},
         "machine": {"hostname": "box"}, "repeats": 8, "gen_tokens": 128, "mode": "completion", "notes": ["hello"]}
    console = Console(width=160, color_system=None, record=True)
    console.print(lab_card(LabResult.from_json(s)))
    text = console.export_text()
    assert "Prompt lookup ngram-simple, n_max 16" in text and "grounded tasks only" in text and "86%" in text
    assert "Note: hello" in text


def test_short_quant() -> None:
    assert short_quant("Q4_K - Medium") == "Q4_K_M" and short_quant("Q8_0") == "Q8_0" and short_quant(None) is None
