"""Run summaries for the views (board, board --by machine, history), through a cache.

The table ``run_summaries`` holds, per run, what ``run_summary`` derived from the stored raw
rows plus the decode rates per depth that ``history`` compares. It is a cache, never a source:

- an entry is used only when its ``derivation_version`` is the code's ``DERIVATION_VERSION``
  (bumped whenever a derivation changes) and its ``stamp`` matches the run as it is now: a
  digest of the run's row with its machine, model and engine spec, the number and last id of
  its requests, and the number, last id and judged count of its answers. A run resumed,
  re-judged, pushed into, or whose machine facts changed gets a new stamp and is recomputed;
- a missing or stale entry is recomputed from the raw rows and written back (when the
  database can be written: a read-only role just recomputes);
- push, pull, export and import never copy it (``store.sync`` skips the table);
- deleting every row of it changes no figure (a test checks the board both ways).
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, NamedTuple

import sqlalchemy as sa

from rigbench.measure.speed import figures
from rigbench.store import Store
from rigbench.store.db import now_iso

__all__ = ["CHANGES", "DERIVATION_VERSION", "TABLE", "Entry", "changes", "clear", "decode_by_depth", "entries"]

DERIVATION_VERSION = 1
TABLE = "run_summaries"
CHANGES = "run_changes"
_WRITE_BATCH = 500



class Entry(NamedTuple):
    summary: dict[str, Any]  # run_summary's
    decode: dict[int, list[float | None]]  # decode rates by depth (what history's change compares)
    stamp: str  # the run as it is now (see the module's docstring)


def decode_by_depth(rows: Iterable[Mapping[str, Any]]) -> dict[int, list[float | None]]:
    """Each ok speed request's decode rate, by depth, in the rows' order."""
    out: dict[int, list[float | None]] = defaultdict(list)
    for r in rows:
        if r.get("phase") == "speed" and r.get("status") == "ok" and r.get("depth") is not None:
            out[int(r["depth"])].append(figures(r).decode_tok_s)
    return dict(out)


def _run_rows(store: Store, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """``Store.get_run`` for many runs in one query."""
    runs, models, machines, specs = (store.t[n] for n in ("runs", "models", "machines", "engine_specs"))
    q = (sa.select(runs, models.c.facts.label("model_facts"), machines.c.facts.label("machine_facts"),
                   specs.c.spec.label("engine_spec"), machines.c.label.label("machine_label"))
         .select_from(runs.outerjoin(models, runs.c.model_id == models.c.id)
                      .outerjoin(machines, runs.c.machine_id == machines.c.id)
                      .outerjoin(specs, runs.c.engine_spec_id == specs.c.id)))
    if len(ids) < 500:
        q = q.where(runs.c.id.in_(list(ids)))
    wanted = set(ids)
    with store.tx() as conn:
        return {int(r["id"]): dict(r) for r in conn.execute(q).mappings() if int(r["id"]) in wanted}


def _counts(store: Store, ids: Sequence[int]) -> dict[int, tuple[Any, ...]]:
    """Per run: (requests, last request id, answers, last answer id, judged answers)."""
    req = store.t["requests"]
    few = len(ids) < 500
    q = sa.select(req.c.run_id, sa.func.count(), sa.func.max(req.c.id)).group_by(req.c.run_id)
    out: dict[int, tuple[Any, ...]] = {}
    with store.tx() as conn:
        for rid, n, last in conn.execute(q.where(req.c.run_id.in_(list(ids))) if few else q):
            out[int(rid)] = (int(n), int(last))
        if "answers" in store.t:
            a = store.t["answers"]
            qa = sa.select(a.c.run_id, sa.func.count(), sa.func.max(a.c.id), sa.func.count(a.c.judge_rating)) \
                .group_by(a.c.run_id)
            for rid, n, last, judged in conn.execute(qa.where(a.c.run_id.in_(list(ids))) if few else qa):
                out[int(rid)] = out.get(int(rid), (0, 0)) + (int(n), int(last), int(judged))
    return out


def _stamp(run: Mapping[str, Any], counts: tuple[Any, ...]) -> str:
    text = json.dumps([run, counts], sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _strict(payload: dict[str, Any]) -> dict[str, Any] | None:
    """``payload``, or None when it does not survive strict JSON as it is (a NaN, a tuple, a
    non-string key): such a figure is recomputed every time rather than cached differently."""
    try:
        text = json.dumps(payload, allow_nan=False)
    except (TypeError, ValueError):
        return None
    return payload if json.loads(text) == payload else None


def _encode(entry: Entry) -> dict[str, Any] | None:
    return _strict({"summary": entry.summary, "decode_by_depth": [[d, v] for d, v in sorted(entry.decode.items())]})


def _decode(payload: Any, stamp: str) -> Entry | None:
    if not isinstance(payload, Mapping) or not isinstance(payload.get("summary"), dict):
        return None
    return Entry(payload["summary"], {int(d): list(v) for d, v in payload.get("decode_by_depth") or []}, stamp)


def entries(store: Store, ids: Sequence[int], *, use_cache: bool = True) -> dict[int, Entry]:
    """The summary and decode rates of each run in ``ids`` (those that exist), from the cache
    where it is current, else recomputed from the raw rows (and the cache refreshed)."""
    from rigbench.jobs.summary import run_summary

    if not ids:
        return {}
    runs = _run_rows(store, ids)
    counts = _counts(store, list(runs))
    stamps = {rid: _stamp(run, counts.get(rid, ())) for rid, run in runs.items()}
    out: dict[int, Entry] = {}
    cache = store.t.get(TABLE)
    if use_cache and cache is not None:
        q = sa.select(cache.c.run_id, cache.c.stamp, cache.c.summary) \
            .where(cache.c.derivation_version == DERIVATION_VERSION)
        if len(runs) < 500:
            q = q.where(cache.c.run_id.in_(list(runs)))
        try:
            with store.engine.connect() as conn:
                for rid, stamp, payload in conn.execute(q):
                    if int(rid) in stamps and stamp == stamps[int(rid)]:
                        entry = _decode(payload, stamp)
                        if entry is not None:
                            out[int(rid)] = entry
        except sa.exc.SQLAlchemyError:  # a role that may not read it: recompute everything
            out.clear()
    fresh: dict[int, dict[str, Any]] = {}
    for rid, run in runs.items():
        if rid in out:
            continue
        rows = store.requests(rid)
        entry = Entry(run_summary(store, rid, run=dict(run), rows=rows), decode_by_depth(rows), stamps[rid])
        out[rid] = entry
        payload = _encode(entry)
        if payload is not None:
            fresh[rid] = payload
    if use_cache and cache is not None and fresh:
        _write(store, cache, [{"run_id": rid, "derivation_version": DERIVATION_VERSION, "stamp": stamps[rid],
                               "summary": payload, "created_at": now_iso()} for rid, payload in fresh.items()],
               lambda chunk: cache.c.run_id.in_([r["run_id"] for r in chunk]))
    return out


def changes(store: Store, pairs: Sequence[tuple[Entry, Entry]],
            compute: Callable[[Entry, Entry], dict[str, Any]]) -> list[dict[str, Any]]:
    """``compute(before, after)`` for each pair of runs (history's change between builds), from
    the table ``run_changes`` where an entry has this code's version and the stamps of both runs
    as they are now, else computed (and the cache refreshed)."""
    cache = store.t.get(CHANGES)
    key = [(int(a.summary["run_id"]), int(b.summary["run_id"]),
            hashlib.sha256(f"{a.stamp}:{b.stamp}".encode()).hexdigest()) for a, b in pairs]
    have: dict[tuple[int, int], tuple[str, Any]] = {}
    if cache is not None and pairs:
        q = sa.select(cache.c.prev_run_id, cache.c.run_id, cache.c.stamp, cache.c.change) \
            .where(cache.c.derivation_version == DERIVATION_VERSION)
        if len(pairs) < 500:
            q = q.where(cache.c.run_id.in_([k[1] for k in key]))
        try:
            with store.engine.connect() as conn:
                have = {(int(p), int(r)): (st, ch) for p, r, st, ch in conn.execute(q)}
        except sa.exc.SQLAlchemyError:
            have = {}
    out: list[dict[str, Any]] = []
    fresh: list[dict[str, Any]] = []
    for (a, b), (pa, pb, stamp) in zip(pairs, key, strict=True):
        got = have.get((pa, pb))
        if got is not None and got[0] == stamp and isinstance(got[1], dict):
            out.append(got[1])
            continue
        change = compute(a, b)
        out.append(change)
        if _strict(change) is not None:
            fresh.append({"run_id": pb, "prev_run_id": pa, "derivation_version": DERIVATION_VERSION,
                          "stamp": stamp, "change": change, "created_at": now_iso()})
    if cache is not None and fresh:
        # a run's other pairs (another filter's "run before") go too: it is only a cache
        _write(store, cache, fresh, lambda chunk: cache.c.run_id.in_([r["run_id"] for r in chunk]))
    return out


def _write(store: Store, table: sa.Table, rows: Sequence[dict[str, Any]],
           match: Callable[[Sequence[dict[str, Any]]], Any]) -> None:
    """Replace the rows ``match`` picks by ``rows``; a database this role cannot write (or a race
    with another process writing the same rows) leaves the cache as it was: it is only a cache."""
    for start in range(0, len(rows), _WRITE_BATCH):
        chunk = rows[start:start + _WRITE_BATCH]
        try:
            with store.engine.begin() as conn:
                conn.execute(table.delete().where(match(chunk)))
                conn.execute(table.insert(), list(chunk))
        except sa.exc.SQLAlchemyError:
            return


def clear(store: Store, run_ids: Iterable[int] | None = None) -> None:
    """Drop cached entries (all of them, or those of ``run_ids``)."""
    ids = None if run_ids is None else list(run_ids)
    with store.tx() as conn:
        for name in (CHANGES, TABLE):
            cache = store.t.get(name)
            if cache is not None:
                conn.execute(cache.delete() if ids is None else cache.delete().where(cache.c.run_id.in_(ids)))
