"""Load figures per concurrency level, from stored request rows (pure: no I/O).

A level is N streams sending at once; each of its requests is one ``requests`` row with
``phase="load"`` and ``extra.level = N`` (``jobs/load.py`` writes them). Everything here is
derived from those rows and from the two ``/metrics`` scrapes stored with the level:

- **aggregate tok/s**: generated tokens (the server's counts, ``usage`` / ``timings``) of the
  level's requests over its wall time, from the first request sent to the last token.
- **per-stream decode**: each ok request's decode rate (``measure.speed``), median and p10
  (the slow tail) over the level's ok requests.
- **TTFT** p50 / p95 over ok requests. ok and failed requests are kept apart: a failed one
  enters no rate, only the failed count.
- **goodput**: requests that ended ok *and* met both SLOs (decode >= ``slo_decode_tok_s``,
  TTFT <= ``slo_ttft_ms`` when one is given), per second of the level's wall time, and
  their share of all the level's requests (failed ones count against it).
- **knee**: walking up from the lowest level, the highest concurrency before the first level
  that misses: median per-stream decode below the SLO, median TTFT above it (when given), or
  any failed request. A rig "feeds N agents" only at a level where all of them were fed.
- **best**: the level with the highest aggregate, and its tokens per hour.
- **server cross-check**: the client's token total (every request's server-reported count)
  against the ``/metrics`` counter increase over the level; a gap over 5% is flagged.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from rigbench.measure.speed import figures

__all__ = [
    "GAP_FLAG_PCT",
    "Best",
    "Knee",
    "LevelFigures",
    "LoadFigures",
    "best_of",
    "knee_of",
    "level_figures",
    "load_figures",
    "percentile",
    "server_delta",
]

GAP_FLAG_PCT = 5.0
DEFAULT_SLO_DECODE_TOK_S = 20.0


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0..100) by linear interpolation between closest ranks; None when empty."""
    xs = sorted(v for v in values if v is not None and math.isfinite(v))
    if not xs:
        return None
    if len(xs) == 1:
        return xs[0]
    pos = (len(xs) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def _r(v: float | None, nd: int = 2) -> float | None:
    return None if v is None else round(v, nd)


@dataclass(frozen=True)
class LevelFigures:
    concurrency: int
    requests_ok: int
    requests_failed: int
    aggregate_tok_s: float | None
    per_stream_decode_tok_s: float | None
    per_stream_decode_p10_tok_s: float | None
    ttft_ms_p50: float | None
    ttft_ms_p95: float | None
    goodput_rps: float | None
    slo_share: float | None
    wall_s: float | None = None
    generated_tokens: int | None = None  # client side: the server's per-request counts, summed
    server_tokens: int | None = None  # /metrics counter increase over the level
    token_gap_pct: float | None = None
    token_gap_flagged: bool = False
    server: dict[str, Any] = field(default_factory=dict)  # /metrics deltas and peaks
    errors: list[str] = field(default_factory=list)  # distinct failure reasons (untrusted text)
    complete: bool = True  # every planned request of the level is stored

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Knee:
    concurrency: int | None
    statement: str


@dataclass(frozen=True)
class Best:
    concurrency: int
    aggregate_tok_s: float
    tokens_per_hour: int


@dataclass(frozen=True)
class LoadFigures:
    levels: list[LevelFigures]
    best: Best | None
    knee: Knee
    slo_decode_tok_s: float
    slo_ttft_ms: float | None


def server_delta(scrapes: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Counter increases over a level, summed over its servers, and the peaks of the gauges
    (requests processing / deferred, KV-cache usage) seen in any scrape. Each scrape is
    ``{"before": counters, "after": counters, "peak": gauges}`` as ``Counters.to_json()``
    writes them; a counter missing on any server is left out of the sum (None, not 0)."""
    scrapes = list(scrapes)
    out: dict[str, Any] = {}
    if not scrapes:
        return out
    for key in ("generation_tokens", "prompt_tokens", "prefix_cache_hits"):
        total = 0.0
        for s in scrapes:
            a = (s.get("before") or {}).get(key)
            b = (s.get("after") or {}).get(key)
            if not isinstance(a, (int, float)) or not isinstance(b, (int, float)) or b < a:
                break
            total += b - a
        else:
            out[key] = round(total)
    for key in ("requests_running", "requests_waiting", "kv_usage"):
        seen = [v for s in scrapes for part in ("before", "after", "peak")
                if isinstance(v := (s.get(part) or {}).get(key), (int, float))]
        if seen:
            out[f"{key}_peak"] = max(seen)
    return out


def _meets(decode: float | None, ttft: float | None, slo_decode: float, slo_ttft: float | None) -> bool:
    if decode is None or decode < slo_decode:
        return False
    return slo_ttft is None or (ttft is not None and ttft <= slo_ttft)


def level_figures(concurrency: int, rows: Sequence[Mapping[str, Any]], *, slo_decode_tok_s: float,
                  slo_ttft_ms: float | None = None, scrapes: Sequence[Mapping[str, Any]] = (),
                  planned: int | None = None) -> LevelFigures:
    """One level's figures from its request rows."""
    figs = [(row, figures(row)) for row in rows]
    ok = [f for _, f in figs if f.ok]
    failed = [row for row, f in figs if not f.ok]
    starts = [int(r["t_sent_ns"]) for r in rows if r.get("t_sent_ns") is not None]
    ends = [int(r["t_last_token_ns"]) for r, f in figs if f.ok and r.get("t_last_token_ns") is not None]
    wall = (max(ends) - min(starts)) / 1e9 if starts and ends and max(ends) > min(starts) else None
    gen_ok = [f.generated_tokens for f in ok if f.generated_tokens is not None]
    agg = sum(gen_ok) / wall if wall and gen_ok else None
    decodes = [f.decode_tok_s for f in ok if f.decode_tok_s is not None]
    ttfts = [f.ttft_ms for f in ok if f.ttft_ms is not None]
    n_all = len(rows)
    good = sum(1 for f in ok if _meets(f.decode_tok_s, f.ttft_ms, slo_decode_tok_s, slo_ttft_ms))
    client_tokens = [f.generated_tokens for _, f in figs if f.generated_tokens is not None]
    client_total = sum(client_tokens) if client_tokens else None
    server = server_delta(scrapes)
    server_tokens = server.get("generation_tokens")
    gap = None
    if client_total is not None and isinstance(server_tokens, int) and server_tokens > 0:
        gap = (client_total - server_tokens) / server_tokens * 100.0
    errors = sorted({str(r.get("error") or r.get("status") or "failed")[:300] for r in failed})
    return LevelFigures(
        concurrency=concurrency,
        requests_ok=len(ok),
        requests_failed=len(failed),
        aggregate_tok_s=_r(agg),
        per_stream_decode_tok_s=_r(percentile(decodes, 50)),
        per_stream_decode_p10_tok_s=_r(percentile(decodes, 10)),
        ttft_ms_p50=_r(percentile(ttfts, 50), 1),
        ttft_ms_p95=_r(percentile(ttfts, 95), 1),
        goodput_rps=_r(good / wall, 3) if wall and n_all else None,
        slo_share=_r(good / n_all, 3) if n_all else None,
        wall_s=_r(wall, 3),
        generated_tokens=client_total,
        server_tokens=server_tokens if isinstance(server_tokens, int) else None,
        token_gap_pct=_r(gap),
        token_gap_flagged=gap is not None and abs(gap) > GAP_FLAG_PCT,
        server=server,
        errors=errors[:5],
        complete=planned is None or n_all >= planned,
    )


def best_of(levels: Sequence[LevelFigures]) -> Best | None:
    """The level with the highest aggregate (the lower concurrency on a tie)."""
    cands = [lv for lv in levels if lv.aggregate_tok_s is not None]
    if not cands:
        return None
    top = max(cands, key=lambda lv: (lv.aggregate_tok_s or 0.0, -lv.concurrency))
    agg = float(top.aggregate_tok_s or 0.0)
    return Best(top.concurrency, agg, round(agg * 3600))


def _level_meets(lv: LevelFigures, slo_decode: float, slo_ttft: float | None) -> bool:
    if lv.requests_failed or not lv.requests_ok:
        return False
    return _meets(lv.per_stream_decode_tok_s, lv.ttft_ms_p50, slo_decode, slo_ttft)


def _agents(n: int) -> str:
    return f"{n} agent" + ("" if n == 1 else "s")


def knee_of(levels: Sequence[LevelFigures], best: Best | None, *, slo_decode_tok_s: float,
            slo_ttft_ms: float | None = None) -> Knee:
    """The highest concurrency fed at the SLO (contiguous from the lowest level), and the
    answer in words: the knee, then the best aggregate."""
    ordered = sorted(levels, key=lambda lv: lv.concurrency)
    knee: int | None = None
    miss: LevelFigures | None = None
    for lv in ordered:
        if _level_meets(lv, slo_decode_tok_s, slo_ttft_ms):
            knee = lv.concurrency
        else:
            miss = lv
            break
    bar = f">= {slo_decode_tok_s:g} tok/s each" + (f" with TTFT <= {slo_ttft_ms:g} ms" if slo_ttft_ms else "")
    if not ordered:
        first = "nothing was measured"
    elif knee is None:
        lv = ordered[0]
        first = f"this rig feeds no agent at {bar}: {_miss_reason(lv, slo_decode_tok_s, slo_ttft_ms)}"
    else:
        first = f"this rig feeds {_agents(knee)} at {bar}"
        if miss is not None:
            first += f" ({miss.concurrency} streams: {_miss_reason(miss, slo_decode_tok_s, slo_ttft_ms)})"
        else:
            first += " (the most measured)"
    if best is not None:
        streams = f"{best.concurrency} stream" + ("" if best.concurrency == 1 else "s")
        first += (f"; background throughput peaks at {best.aggregate_tok_s:,.0f} tok/s with {streams} "
                  f"({best.tokens_per_hour:,} tokens/hour)")
    return Knee(knee, first)


def _miss_reason(lv: LevelFigures, slo_decode: float, slo_ttft: float | None) -> str:
    if not lv.requests_ok:
        return f"all {lv.requests_failed} requests failed"
    if lv.requests_failed:
        return f"{lv.requests_failed} of {lv.requests_ok + lv.requests_failed} requests failed"
    d = lv.per_stream_decode_tok_s
    if d is None or d < slo_decode:
        return "per-stream decode unknown" if d is None else f"{d:,.1f} tok/s per stream"
    return f"median TTFT {lv.ttft_ms_p50:,.0f} ms" if lv.ttft_ms_p50 is not None else "TTFT unknown"


def load_figures(rows: Sequence[Mapping[str, Any]], levels_info: Mapping[str, Mapping[str, Any]], *,
                 slo_decode_tok_s: float = DEFAULT_SLO_DECODE_TOK_S, slo_ttft_ms: float | None = None,
                 phase: str = "load") -> LoadFigures:
    """Every level's figures, the best aggregate and the knee, from a load run's stored rows
    (``levels_info``: the run's ``extra["load"]["levels"]``, keyed by the concurrency as text,
    with each level's scrapes and planned request count)."""
    by_level: dict[int, list[Mapping[str, Any]]] = {}
    for row in rows:
        if row.get("phase") != phase:
            continue
        lvl = (row.get("extra") or {}).get("level")
        if isinstance(lvl, int) and not isinstance(lvl, bool):
            by_level.setdefault(lvl, []).append(row)
    out: list[LevelFigures] = []
    for c in sorted(by_level):
        info = levels_info.get(str(c)) or {}
        planned = info.get("planned")
        out.append(level_figures(c, by_level[c], slo_decode_tok_s=slo_decode_tok_s, slo_ttft_ms=slo_ttft_ms,
                                 scrapes=info.get("scrapes") or (),
                                 planned=planned if isinstance(planned, int) else None))
    best = best_of(out)
    return LoadFigures(out, best, knee_of(out, best, slo_decode_tok_s=slo_decode_tok_s, slo_ttft_ms=slo_ttft_ms),
                       slo_decode_tok_s, slo_ttft_ms)
