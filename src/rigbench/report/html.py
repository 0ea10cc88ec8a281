"""``rigbench report``: one self-contained HTML file for stored runs and compares.

Inline SVG plots and inline CSS, no scripts, no fonts or anything else fetched: the file
opens the same offline, in a mail attachment or a CI artifact. Every value goes through
jinja2's autoescape, so model output (an answer containing ``<script>``) shows as text, and
through ``report.safe.visible`` first, so its control characters are shown too (``\x1b``).
Summaries come from ``jobs.summary`` and ``jobs.compare`` (recomputed from the stored
requests); nothing here measures.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from rigbench.errors import UsageError
from rigbench.store import Store

__all__ = ["collect", "leaderboard_rows", "render_html"]

MAX_ANSWERS = 4
MAX_ANSWER_CHARS = 1500
_CAPTIONS = {
    "decode": "Median decode per depth; the band is the median's 95% bootstrap CI.",
    "prefill": "Prefill of the new part of the context (the first request at each depth).",
    "ttft": "TTFT against the prompt's length; cached context makes later requests start fast.",
    "session": "Decode per turn of the scripted agent session; dotted: the median; ▼ the worst dip; "
               "shaded: the context.",
}


def collect(store: Store, run_ids: Sequence[int]) -> list[dict[str, Any]]:
    """Each run's summary (a compare's for a compare run), with a few model answers."""
    from rigbench.jobs.compare import compare_summary
    from rigbench.jobs.summary import run_summary
    from rigbench.quality.summary import requests_with_scores

    out: list[dict[str, Any]] = []
    for rid in run_ids:
        run = store.get_run(rid)
        if run is None:
            raise UsageError(f"there is no run {rid} in {store.where}", "list runs with rigbench runs")
        if run["kind"] == "lab":
            summary = _lab_summary(store, rid)
        else:
            summary = compare_summary(store, rid) if run["kind"] == "compare" else run_summary(store, rid)
        summary.setdefault("kind", run["kind"])
        summary["answers"] = _answers(requests_with_scores(store, rid))
        out.append(summary)
    return out


def _answers(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, str]]:
    """Up to MAX_ANSWERS answers: the lowest-scored quality answers, then session summaries."""
    quality = [r for r in rows if r.get("phase") == "quality" and r.get("content")]
    quality.sort(key=_score)
    picked: list[dict[str, str]] = []
    for r in quality[:MAX_ANSWERS]:
        score = (r.get("extra") or {}).get("score")
        src = f"quality prompt {r.get('role')} · repeat {(r.get('rep') or 0) + 1}"
        if isinstance(score, (int, float)):
            src += f" · score {score:.1f}/5"
        picked.append({"source": src, "text": _clip(str(r["content"]))})
    session = [r for r in rows if r.get("phase") in ("session", "compare") and r.get("content")]
    if session and len(picked) < MAX_ANSWERS:
        last = max(session, key=lambda r: (r.get("rep") or 0, r.get("seq") or 0))
        who = f" ({str(last.get('role')).upper()})" if last.get("phase") == "compare" else ""
        picked.append({"source": f"agent session, last turn{who}", "text": _clip(str(last["content"]))})
    return picked


def _score(r: Mapping[str, Any]) -> float:
    score = (r.get("extra") or {}).get("score")
    return float(score) if isinstance(score, (int, float)) else 99.0


def _clip(text: str) -> str:
    return text if len(text) <= MAX_ANSWER_CHARS else text[:MAX_ANSWER_CHARS] + " …"


def _num(v: Any, nd: int = 1) -> str:
    if v is None or not isinstance(v, (int, float)):
        return "—"
    return f"{v:,.{nd}f}"


def _value(v: Any) -> str:
    """A fact for people: 246,587,904 not 246587904.0; yes/no for booleans."""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int) or (isinstance(v, float) and v.is_integer() and abs(v) >= 1000):
        return f"{int(v):,}"
    if isinstance(v, float):
        return f"{v:,.2f}" if abs(v) < 1000 else f"{v:,.0f}"
    if isinstance(v, (list, tuple)):
        return ", ".join(_value(x) for x in v)
    return str(v)


_UNITS = (("_depth0", " at depth 0"), ("_gb_s", " GB/s"), ("_tok_s", " tok/s"), ("_ms", " ms"), ("_pct", " %"))


def _label(key: str) -> str:
    for part, unit in _UNITS:
        key = key.replace(part, unit)
    return key.replace("_", " ")


def _bytes(n: Any) -> str:
    if not isinstance(n, (int, float)) or not n:
        return "—"
    for unit, div in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= div:
            return f"{n / div:.1f} {unit}"
    return f"{int(n)} B"


def _at_verdict(points: Sequence[Mapping[str, Any]], depth: Any) -> Mapping[str, Any] | None:
    return next((p for p in points if p.get("depth") == depth), None)


def leaderboard_rows(summaries: Sequence[Mapping[str, Any]]) -> list[dict[str, str]]:
    """The leaderboard's columns for the given runs (a compare gives one row per side)."""
    from rigbench.measure.points import verdict

    def suite_of(s: Mapping[str, Any]) -> str | None:
        q = s.get("quality") or {}
        return f"{q.get('suite')} {q.get('suite_version')}" if q.get("score") is not None and q.get("suite") else None

    # scores of different suite versions are not comparable: name each when the runs mix them
    mixed = len({suite_of(s) for s in summaries if (s.get("quality") or {}).get("score") is not None}) > 1
    rows: list[dict[str, str]] = []
    for s in summaries:
        if s.get("kind") == "lab":
            continue  # a lab has its own table of techniques
        if s.get("kind") == "compare":
            for side in ("a", "b"):
                d = s.get(side) or {}
                pts = [{"depth": p["depth"], "decode_tok_s": p.get(f"{side}_decode_tok_s"),
                        "prefill_tok_s": p.get(f"{side}_prefill_tok_s"), "ttft_ms": p.get(f"{side}_ttft_ms")}
                       for p in s.get("depths") or []]
                if s.get("mode") == "session":
                    sess = (s.get("sessions") or {}).get(side) or {}
                    pts = [{"depth": sess.get("context_end") or 0, "decode_tok_s": sess.get("decode_median_tok_s"),
                            "prefill_tok_s": sess.get("prefill_median_tok_s"), "ttft_ms": sess.get("ttft_median_ms")}]
                v = verdict(pts, d.get("native_context"), granted_context=d.get("granted_context"))
                at = _at_verdict(pts, v.get("at_depth")) or {}
                rows.append({"run": f"compare {s.get('compare_id')} · {side.upper()} ({d.get('text')})",
                             "model": str(d.get("model") or "?"), "quant": str(d.get("quant") or "—"), "quality": "—",
                             "decode": _num(at.get("decode_tok_s")), "prefill": _num(at.get("prefill_tok_s")),
                             "ttft": _num(at.get("ttft_ms"), 0),
                             "native": f"{d['native_context']:,}" if d.get("native_context") else "—",
                             "verdict": str(v["class"]), "verdict_class": str(v["class"])})
            continue
        m = s.get("model") or {}
        v = s.get("verdict") or {}
        at = _at_verdict(s.get("points") or [], v.get("at_depth")) or {}
        decode, prefill, ttft = at.get("decode_tok_s"), at.get("prefill_tok_s"), at.get("ttft_ms")
        sess = s.get("session")
        if not at and isinstance(sess, Mapping):
            decode, prefill, ttft = (sess.get("decode_median_tok_s"), sess.get("prefill_median_tok_s"),
                                     sess.get("ttft_median_ms"))
        q = s.get("quality") or {}
        rows.append({"run": f"run {s.get('run_id')}", "model": str(m.get("name") or "?"),
                     "quant": str(m.get("quant") or "—"),
                     "quality": _num(q.get("score"), 2) + (f" ({suite_of(s) or 'suite not recorded'})"
                                                           if mixed and q.get("score") is not None else ""),
                     "decode": _num(decode) + (" (session)" if not at and decode is not None else ""),
                     "prefill": _num(prefill), "ttft": _num(ttft, 0),
                     "native": f"{m['native_context']:,}" if m.get("native_context") else "—",
                     "verdict": str(v.get("class") or "?"), "verdict_class": str(v.get("class") or "")})
    return rows


def _provenance(summaries: Sequence[Mapping[str, Any]]) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    for s in summaries:
        if s.get("kind") == "lab":
            rows.append(_lab_provenance(s))
            continue
        if s.get("kind") == "compare":
            builds = " | ".join(f"{k.upper()}: {(s.get(k) or {}).get('build') or '?'}" for k in ("a", "b"))
            rows.append({"run": f"compare {s.get('compare_id')}", "command": str(s.get("command") or "—"),
                         "tool_version": str(s.get("tool_version") or "?"), "build": builds,
                         "created_at": str(s.get("created_at") or "")})
            for k in ("a", "b"):
                d = s.get(k) or {}
                if not d.get("interleaved", True) and d.get("command"):
                    rows.append({"run": f"└ {k.upper()} = run {d.get('run_id')}", "command": str(d["command"]),
                                 "tool_version": "", "build": str(d.get("build") or "?"), "created_at": ""})
            continue
        e = s.get("engine") or {}
        rows.append({"run": f"run {s.get('run_id')}", "command": str(s.get("command") or "—"),
                     "tool_version": str(s.get("tool_version") or "?"),
                     "build": " · ".join(str(x) for x in (e.get("kind"), e.get("build"), e.get("server_bin")) if x),
                     "created_at": str(s.get("created_at") or "")})
    return rows


def _plots(summaries: Sequence[Mapping[str, Any]]) -> list[dict[str, str]]:
    from rigbench.report.plots import PLOTS, figure, plot_series, svg_text

    series = plot_series(summaries)
    out: list[dict[str, str]] = []
    for name in PLOTS:
        if not series[name]:
            continue
        fig = figure(name, series[name])
        svg = re.sub(r"<!--.*?-->", "", svg_text(fig, f"plot-{name}"), flags=re.S)
        out.append({"name": name, "svg": svg, "caption": _CAPTIONS[name]})
    return out


def render_html(summaries: Sequence[Mapping[str, Any]], *, generated_at: str | None = None) -> str:
    """The report as one HTML string."""
    import jinja2

    from rigbench import __version__
    from rigbench.measure.points import WORKING_DEPTH

    env = jinja2.Environment(loader=jinja2.PackageLoader("rigbench.report", "templates"),
                             autoescape=True, undefined=jinja2.ChainableUndefined, finalize=_finalize,
                             trim_blocks=True, lstrip_blocks=True)
    ids = ", ".join(f"{s.get('kind') if s.get('kind') in ('compare', 'lab') else 'run'} {s.get('run_id')}"
                    for s in summaries)
    return env.get_template("report.html.j2").render(
        title=ids or "no runs", summaries=summaries, board=leaderboard_rows(summaries),
        provenance=_provenance(summaries), plots=_plots(summaries), working_depth=f"{WORKING_DEPTH:,}",
        generated_at=generated_at or datetime.now(timezone.utc).isoformat(timespec="seconds"),
        tool_version=__version__, num=_num, bytes=_bytes, value=_value, label=_label, lab=_lab_cells,
        has_ceiling=lambda s: any(p.get("pct_of_ceiling") is not None for p in s.get("points") or []),
    )


def _finalize(value: Any) -> Any:
    """Every ``{{ value }}``: a string is made visible (markup the template marked safe, the
    inline SVG, is rigbench's own and passes as it is); autoescape comes after."""
    import markupsafe

    from rigbench.report.safe import visible

    if isinstance(value, str) and not isinstance(value, markupsafe.Markup):
        return visible(value)
    return value


# -- a lab run (rigbench lab): its table of techniques --------------------------------------
def _lab_summary(store: Store, run_id: int) -> dict[str, Any]:
    from rigbench.lab.summary import lab_summary

    return lab_summary(store, run_id)


def _lab_provenance(s: Mapping[str, Any]) -> dict[str, str]:
    e = s.get("engine") or {}
    return {"run": f"lab {s.get('lab_id')}", "command": str(s.get("command") or "—"),
            "tool_version": str(s.get("tool_version") or "?"),
            "build": " · ".join(str(x) for x in (e.get("kind"), e.get("build"), e.get("server_bin")) if x),
            "created_at": str(s.get("created_at") or "")}


def _lab_cells(r: Mapping[str, Any]) -> dict[str, str]:
    """A lab table row's cells, as the terminal card words them."""
    from rigbench.lab.card import identity_words, pct
    from rigbench.lab.verdict import speed_words

    ci = r.get("ci")
    return {"speedup": str(r.get("speed_words") or speed_words(r.get("speedup"))),
            "ci": f"{ci[0]:.2f}–{ci[1]:.2f}" if ci else "—", "acceptance": pct(r.get("acceptance")),
            "identity": identity_words(r.get("identity"), r.get("identical")) if r.get("arm") != "baseline" else "",
            "verdict_class": str(r.get("verdict") or "").split(" ")[0]}
