"""A lab run's evidence, recomputed from the database: the ``--json`` contract.

``{"baseline": {"decode_tok_s", ...}, "rows": [{"technique", "work", "depth",
"decode_tok_s", "speedup", "ci", "acceptance", "identical", "verdict", ...}], "table": [...]}``
with the arms, the synthetic speedup curve, the quality gate and the run's facts besides.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rigbench.errors import UsageError
from rigbench.lab.figures import arm_figures, baseline_figures
from rigbench.lab.techniques import Arm
from rigbench.lab.verdict import assign_verdicts, technique_table
from rigbench.measure.overrun import overrun_notes
from rigbench.store import Store
from rigbench.store.answers import list_answers

__all__ = ["gate_from", "lab_summary", "short_quant", "summary_from"]

_ROW_KEYS = ("technique", "arm", "kind", "work", "depth", "draft_n_max", "decode_tok_s", "decode_ci",
             "baseline_decode_tok_s", "speedup", "ci", "paired_verdict", "mde_pct", "pairs", "acceptance",
             "accepted_share", "draft_n", "draft_n_accepted", "identical", "identity", "ci_method")


def short_quant(quant: Any) -> str | None:
    """llama.cpp's file type as people write it: "Q4_K - Medium" -> "Q4_K_M"."""
    if not quant:
        return None
    text = str(quant)
    for word, tag in ((" - Medium", "_M"), (" - Small", "_S"), (" - Large", "_L"), (" - Extra small", "_XS")):
        text = text.replace(word, tag)
    return text


def _gate(extra: Mapping[str, Any], arm: Arm) -> dict[str, Any] | None:
    from rigbench.tune.gate import GateScores, gate_verdict

    if not arm.lossy:
        return None
    gate = extra.get("gate") or {}
    if arm.name not in gate:
        return {"passed": None, "statement": "quality gate not run"}
    passed, statement = gate_verdict(GateScores.from_json(gate.get("baseline")), GateScores.from_json(gate[arm.name]))
    return {"passed": passed, "statement": statement, "baseline": gate.get("baseline"), "trial": gate[arm.name]}


def gate_from(answers: Sequence[Mapping[str, Any]], stored: Mapping[str, Any]) -> dict[str, Any]:
    """Each arm's quality gate (``tune.gate.GateScores`` JSON) from its graded answers
    (``answers`` rows of kind "gate", scope "arm:NAME"); ``stored`` is the run's
    ``extra["gate"]``: per arm, why the gate did not run and the suite it used (inputs). A
    0.1.0 gate whose answers could not be back-filled keeps its stored scores (fallback)."""
    scores: dict[str, dict[str, float]] = {}
    for a in answers:
        scope = str(a.get("scope") or "")
        if a.get("kind") == "gate" and scope.startswith("arm:"):
            scores.setdefault(scope[4:], {})[str(a["prompt_id"])] = float(a["score"])
    out: dict[str, Any] = {}
    for arm in dict.fromkeys([*stored, *scores]):
        g = dict(stored.get(arm) or {})
        s = scores.get(arm, g.get("scores") or {})
        out[arm] = {"scores": s, "mean": sum(s.values()) / len(s) if s else None, "not_run": g.get("not_run"),
                    "suite": g.get("suite")}
    return out


def summary_from(rows: list[dict[str, Any]], arms: list[Arm], extra: Mapping[str, Any], target: str) -> dict[str, Any]:
    """The figures, verdicts and table from request rows (pure)."""
    baseline = baseline_figures(rows)
    figs = [arm_figures(a, rows) for a in arms if a.technique != "baseline"]
    for f, a in zip(figs, [a for a in arms if a.technique != "baseline"], strict=True):
        f["gate"] = _gate(extra, a)
    assign_verdicts(figs)
    out_rows: list[dict[str, Any]] = []
    for f in figs:
        for c in f["cells"]:
            out_rows.append({**{k: c.get(k) for k in _ROW_KEYS}, "verdict": f["verdict"],
                             "arm_verdict": f["verdict"]})
    curve = [{"acceptance_target": f["arm"]["synthetic"], "acceptance": f["overall"].get("acceptance"),
              "speedup": f["overall"].get("speedup"), "ci": f["overall"].get("ci"),
              "decode_tok_s": f["overall"].get("decode_tok_s"), "draft_n_max": f["arm"].get("draft_n_max")}
             for f in figs if f["arm"].get("synthetic") is not None]
    return {"baseline": baseline, "rows": out_rows, "arms": figs,
            "table": technique_table(baseline, figs, target), "synthetic": sorted(
                curve, key=lambda c: c["acceptance_target"])}


def lab_summary(store: Store, run_id: int) -> dict[str, Any]:
    run = store.get_run(run_id)
    if run is None:
        raise UsageError(f"there is no run {run_id} in {store.where}", "list runs with rigbench runs")
    if run["kind"] != "lab":
        raise UsageError(f"run {run_id} is a {run['kind']} run, not a lab", f"see it with rigbench show {run_id}")
    params = dict(run.get("params") or {})
    extra = dict(run.get("extra") or {})
    arms = [Arm.from_json(a) for a in params.get("arms") or []]
    model = dict(run.get("model_facts") or {})
    engine = dict(run.get("engine_spec") or params.get("engine") or {})
    base_facts = (extra.get("arm:baseline") or {}).get("server_facts") or {}
    target = " ".join(str(x) for x in (model.get("name"), short_quant(model.get("quant"))) if x) or "?"
    rows = store.requests(run_id)
    gate = gate_from(list_answers(store, run_id, kind="gate"), extra.get("gate") or {})
    body = summary_from(rows, arms, {**extra, "gate": gate} if gate else extra, target)
    body["baseline"].update({"flags": engine.get("flags") or {}, "engine": engine.get("kind"),
                             "build": base_facts.get("build"), "server_bin": engine.get("server_bin")})
    for f in body["arms"]:
        arm_extra = extra.get(f"arm:{f['arm']['name']}") or {}
        f["speculative_log"] = arm_extra.get("speculative_log") or []
    return {
        "lab_id": run_id, "run_id": run_id, "kind": "lab", "status": run["status"], "reason": run.get("reason"),
        "created_at": run["created_at"], "target": target,
        "model": {k: model.get(k) for k in ("name", "quant", "file_bytes", "native_context", "path")},
        "engine": {"kind": engine.get("kind"), "flags": engine.get("flags") or {}, "build": base_facts.get("build"),
                   "server_bin": engine.get("server_bin")},
        **body,
        "depths": params.get("planned_depths") or [], "repeats": params.get("repeats"),
        "gen_tokens": params.get("gen_tokens"), "mode": params.get("mode"),
        "other_load": extra.get("other_load"), "params": params,
        "notes": [*(run.get("notes") or []), *overrun_notes(rows)],
        "command": run.get("command"), "tool_version": run.get("tool_version"),
        "machine": run.get("machine_facts") or {},
        "requests": {"total": len(rows), "failed": sum(1 for r in rows if r["status"] != "ok")},
    }
