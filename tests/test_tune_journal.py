"""Hypotheses, keep/discard decisions, the side-by-side winner and the journal text (no engine)."""

from __future__ import annotations

from rigbench.tune.final import order_for_round, pick_winner
from rigbench.tune.gate import GateScores, gate_verdict
from rigbench.tune.journal import (
    change_list,
    decide,
    effective_defaults,
    hypothesis,
    render_journal,
    restart_statement,
)
from rigbench.tune.trial import TrialFigures


def test_effective_defaults_from_the_boot_log() -> None:
    d = effective_defaults({"n_threads": 2, "n_ubatch": 512, "n_batch": 2048, "n_slots": 1, "n_ctx": 32768})
    assert d["t"] == "2" and d["ub"] == "512" and d["np"] == "1" and d["fa"] == "auto" and d["ctk"] == "f16"
    quiet = effective_defaults({"n_slots": 4}, "0.01.6 I cmn          init: llama threadpool init, n_threads = 2\n")
    assert quiet["t"] == "2" and quiet["np"] == "4" and quiet["ub"] == "512" and quiet["b"] == "2048"
    assert "not reported" in hypothesis([("t", None, "2")])


def test_hypotheses_name_each_change() -> None:
    defaults = effective_defaults({"n_threads": 2, "n_ubatch": 512})
    ch = change_list({}, {"ub": "2048", "t": "1"}, defaults)
    assert ch == [("t", "2", "1"), ("ub", "512", "2048")]
    text = hypothesis(ch, cores=2)
    assert "-ub 2048 keeps the batch busy during prompt processing" in text and "prefill should rise" in text
    assert "-t 1 leaves 1 of the 2 threads idle" in text
    assert "contend" in hypothesis([("t", "2", "8")], cores=2)
    assert "quality gate" in hypothesis([("ctk", "f16", "q8_0")])
    assert "noise check" in hypothesis([])


def test_restart_statement() -> None:
    assert restart_statement([], None) == "a fresh server"
    assert "reused" in restart_statement([], 3)
    assert "-t" in restart_statement([("t", "1", "2")], 1)


def _decide(trial: list[float], incumbent: list[float], gate: tuple[bool | None, str] | None = None) -> object:
    return decide(objective="decode@4k", trial_scores=trial, incumbent_scores=incumbent,
                  trial_prefill=[100.0] * len(trial), trial_decode=trial, incumbent_prefill=[100.0] * len(trial),
                  incumbent_decode=incumbent, incumbent=0, gate=gate)


def test_decisions_keep_clearly_faster_and_discard_slower() -> None:
    fast = _decide([2.0, 2.05, 1.98, 2.02], [1.0, 1.01, 0.99, 1.0])
    assert fast.decision == "keep" and "clearly faster" in fast.reason  # type: ignore[attr-defined]
    slow = _decide([0.5, 0.52, 0.49, 0.5], [1.0, 1.01, 0.99, 1.0])
    assert slow.decision == "discard" and "clearly slower" in slow.reason  # type: ignore[attr-defined]
    close = _decide([1.02, 0.97, 1.05, 1.0], [1.0, 1.01, 0.99, 1.0])
    assert "noise" in close.reason  # type: ignore[attr-defined]
    ev = fast.evidence  # type: ignore[attr-defined]
    assert ev["vs_incumbent"]["objective"]["ratio"] > 1.9 and ev["vs_incumbent"]["objective"]["ci"]


def test_a_failed_quality_gate_discards_a_faster_trial() -> None:
    d = _decide([2.0, 2.05, 1.98], [1.0, 1.01, 0.99], gate=(False, "quality gate failed: 2.0 vs 4.0"))
    assert d.decision == "discard" and "quality gate failed" in d.reason  # type: ignore[attr-defined]


def test_gate_verdict() -> None:
    base = GateScores({"a": 5.0, "b": 5.0})
    assert gate_verdict(base, GateScores({"a": 5.0, "b": 4.5}))[0] is True
    failed = gate_verdict(base, GateScores({"a": 0.0, "b": 5.0}))
    assert failed[0] is False and "worse on a" in failed[1]
    not_run = gate_verdict(base, GateScores(not_run="no chat template"))
    assert not_run[0] is None and not_run[1].startswith("quality gate not run: no chat template")


def test_rounds_rotate() -> None:
    assert order_for_round([1, 2, 0], 0) == [1, 2, 0]
    assert order_for_round([1, 2, 0], 1) == [1, 0, 2]
    firsts = {order_for_round([1, 2, 0], r)[0] for r in range(6)}
    assert firsts == {0, 1, 2}


def test_pick_winner_side_by_side() -> None:
    figs = {0: TrialFigures(prefill=[100.0, 101.0, 99.0], decode=[10.0, 10.1, 9.9]),
            3: TrialFigures(prefill=[200.0, 202.0, 198.0], decode=[20.0, 20.2, 19.8]),
            4: TrialFigures(prefill=[150.0, 151.0, 149.0], decode=[15.0, 15.1, 14.9])}
    r = pick_winner("balanced", figs, {0: "defaults", 3: "t=2", 4: "t=1"})
    assert r["winner"] == 3
    win = r["participants"][0]
    assert win["prefill_vs_default"]["ratio"] > 1.9 and win["decode_vs_default"]["ci"]
    assert "beats the defaults" in r["statement"] and "runner-up (trial 4)" in r["statement"]
    only_base = pick_winner("decode", {0: figs[0], 4: TrialFigures(prefill=[1.0] * 3, decode=[5.0, 5.0, 5.0])}, {})
    assert only_base["winner"] == 0 and "defaults scored best" in only_base["statement"]
    tie = pick_winner("decode", {0: figs[0], 5: TrialFigures(prefill=[1.0] * 3, decode=[9.95, 10.05, 9.9])}, {})
    assert tie["winner"] == 5 and "pin what was measured" in tie["statement"]
    lossy = pick_winner("decode", {0: figs[0], 5: TrialFigures(prefill=[1.0] * 3, decode=[9.95, 10.05, 9.9])}, {},
                        lossy=frozenset({5}))
    assert lossy["winner"] == 0
    worse = pick_winner("decode", {0: figs[0], 6: TrialFigures(prefill=[1.0] * 3, decode=[9.0, 11.0, 9.2])}, {})
    assert worse["winner"] == 0  # 0.92x with a wide interval: not "practically equal"


def test_render_journal_reads_like_an_experiment_log() -> None:
    summary = {
        "campaign_id": 7, "objective": {"text": "decode@4k", "description": "decode"},
        "workload": {"prefill_tokens": 1024, "gen_tokens": 64, "decode_depth": 4096, "repeats": 3},
        "defaults": {"t": "2", "fa": "auto"}, "machine": {"cores": 2},
        "trials": [
            {"n": 0, "label": "defaults", "status": "measured", "decision": "keep", "reason": "baseline",
             "evidence": {"prefill": {"median": 400.0, "ci": [390.0, 410.0]}, "decode": {"median": 70.0}}},
            {"n": 1, "label": "b=256 ub=512", "status": "rejected", "decision": "discard",
             "reason": "rejected before launch: batch size b=256 is smaller than the micro-batch ub=512"},
            {"n": 2, "label": "t=1", "status": "failed", "decision": "discard", "reason": "failed to start: x",
             "hypothesis": "-t 1 leaves 1 of the 2 threads idle.", "restart": "restart: llama.cpp reads -t at load",
             "load": [1.0, 1.2]},
        ],
        "winner": {"trial": 0, "label": "defaults", "command": "llama-server -m m.gguf", "why": None},
        "improvement": {"prefill": 1.0, "decode": 1.0},
    }
    text = render_journal(summary)
    assert "Trial 1 · b=256 ub=512 · rejected" in text
    assert "decision: DISCARD — failed to start: x" in text
    assert "machine load (1-min average, 2 cores): 1.0 before, 1.2 after" in text
    assert "Winner: trial 0 (defaults): prefill 1.00x" in text and "llama-server -m m.gguf" in text
