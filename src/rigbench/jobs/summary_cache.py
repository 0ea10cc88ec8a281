"""Run summaries for the views (board, board --by machine, history), through a cache.

The table ``run_summaries`` holds, per run, what ``run_summary`` derived from the stored raw
rows plus the decode rates per depth that ``history`` compares. It is a cache, never a source:

- an entry is used only when its ``derivation_version`` is the code's ``DERIVATION_VERSION``
  (bumped whenever a derivation changes) and its ``stamp`` matches the run as it is now: a
  digest of the run's row with its machine, model and engine spec, and, for every table of raw
  rows with a ``run_id`` (requests, answers, energy samples, ...), the number and last id of
  the run's rows there (and the judged count of its answers). A run resumed,
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
from rigbench.store.filters import RunFilter

__all__ = ["CHANGES", "DERIVATION_VERSION", "TABLE", "Entry", "changes", "clear", "decode_by_depth", "decodes",
           "entries", "finished_runs"]

DERIVATION_VERSION = 1
TABLE = "run_summaries"
CHANGES = "run_changes"
_WRITE_BATCH = 500



class Entry(NamedTuple):
    summary: dict[str, Any]  # run_summary's
    stamp: str  # the run as it is now (see the module's docstring)


def decode_by_depth(rows: Iterable[Mapping[str, Any]]) -> dict[int, list[float | None]]:
    """Each ok speed request's decode rate, by depth, in the rows' order (what history's change
    between two runs compares)."""
    out: dict[int, list[float | None]] = defaultdict(list)
    for r in rows:
        if r.get("phase") == "speed" and r.get("status") == "ok" and r.get("depth") is not None:
            out[int(r["depth"])].append(figures(r).decode_tok_s)
    return dict(out)


def finished_runs(store: Store, where: RunFilter | None = None) -> list[dict[str, Any]]:
    """The depth-sweep or session runs that measured something (complete or incomplete), newest
    first, as the views list them: ``id``, ``uuid``, ``label``, ``machine_uid``, ``machine_label``.
    ``Store.list_runs`` without decoding what the views do not need (one query)."""
    if where is not None and where.build:  # the build lives in the server facts: filtered there
        return [r for r in store.list_runs(kind="run", where=where) if r["status"] in ("complete", "incomplete")]
    runs, machines = store.t["runs"], store.t["machines"]
    q = (sa.select(runs.c.id, runs.c.uuid, runs.c.label, machines.c.uid.label("machine_uid"),
                   machines.c.label.label("machine_label"))
         .select_from(runs.outerjoin(machines, runs.c.machine_id == machines.c.id))
         .where(runs.c.kind == "run", runs.c.status.in_(("complete", "incomplete"))).order_by(runs.c.id.desc()))
    if where is not None:
        q = where.apply(q, runs, machines)
    with store.tx() as conn:
        return [dict(r) for r in conn.execute(q).mappings()]


def _joined(store: Store, cols: Sequence[Any], ids: Sequence[int]) -> sa.Select[Any]:
    runs, models, machines, specs = (store.t[n] for n in ("runs", "models", "machines", "engine_specs"))
    q = (sa.select(*cols).select_from(runs.outerjoin(models, runs.c.model_id == models.c.id)
                                      .outerjoin(machines, runs.c.machine_id == machines.c.id)
                                      .outerjoin(specs, runs.c.engine_spec_id == specs.c.id)))
    return q.where(runs.c.id.in_(list(ids))) if len(ids) < 500 else q


def _run_rows(store: Store, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """``Store.get_run`` for many runs in one query."""
    runs, models, machines, specs = (store.t[n] for n in ("runs", "models", "machines", "engine_specs"))
    q = _joined(store, [runs, models.c.facts.label("model_facts"), machines.c.facts.label("machine_facts"),
                        specs.c.spec.label("engine_spec"), machines.c.label.label("machine_label")], ids)
    wanted = set(ids)
    with store.tx() as conn:
        return {int(r["id"]): dict(r) for r in conn.execute(q).mappings() if int(r["id"]) in wanted}


def _as_text(col: Any) -> Any:
    return sa.cast(col, sa.Text) if isinstance(col.type, sa.JSON) else col


def _stamps(store: Store, ids: Sequence[int]) -> dict[int, str]:
    """Per run, a digest of everything ``run_summary`` reads: the run's row with its model's,
    machine's and engine spec's (JSON read as the text stored, not decoded), and the count and
    last id of its rows in every table of raw rows (``_counts``)."""
    runs, models, machines, specs = (store.t[n] for n in ("runs", "models", "machines", "engine_specs"))
    cols = [_as_text(c) for c in runs.c] + [_as_text(models.c.facts), _as_text(machines.c.facts),
                                            _as_text(specs.c.spec), machines.c.label]
    wanted = set(ids)
    counts = _counts(store, ids)
    out: dict[int, str] = {}
    with store.tx() as conn:
        for row in conn.execute(_joined(store, cols, ids)):
            rid = int(row[0])
            if rid in wanted:
                text = json.dumps([list(row), counts.get(rid, [])], default=str, separators=(",", ":"))
                out[rid] = hashlib.sha256(text.encode()).hexdigest()
    return out


def _counts(store: Store, ids: Sequence[int]) -> dict[int, list[Any]]:
    """Per run, for every table of raw rows that hangs off a run (requests, answers, energy
    samples, ... : every table with a ``run_id`` but the caches): its name, the count and the
    last id of the run's rows there (and the count of judged answers). One query a table."""
    few = len(ids) < 500
    out: dict[int, list[Any]] = defaultdict(list)
    with store.tx() as conn:
        for name in sorted(n for n, t in store.t.items() if "run_id" in t.c and n not in ("runs", TABLE, CHANGES)):
            t = store.t[name]
            cols = [sa.func.count()] + ([sa.func.max(t.c.id)] if "id" in t.c else []) + \
                ([sa.func.count(t.c.judge_rating)] if "judge_rating" in t.c else [])
            q = sa.select(t.c.run_id, *cols).group_by(t.c.run_id)
            for rid, *agg in conn.execute(q.where(t.c.run_id.in_(list(ids))) if few else q):
                out[int(rid)].append([name, *agg])
    return out


def _strict(payload: Any) -> Any:
    """``payload``, or None when it does not survive strict JSON as it is (a NaN, a tuple, a
    non-string key): such a figure is recomputed every time rather than cached differently."""
    try:
        text = json.dumps(payload, allow_nan=False)
    except (TypeError, ValueError):
        return None
    return payload if json.loads(text) == payload else None


def _read(store: Store, cache: sa.Table, column: str, stamps: Mapping[int, str]) -> dict[int, Any]:
    """``column`` of the current entries (this code's version, the run's stamp as it is now)."""
    q = sa.select(cache.c.run_id, cache.c.stamp, cache.c[column]) \
        .where(cache.c.derivation_version == DERIVATION_VERSION)
    if len(stamps) < 500:
        q = q.where(cache.c.run_id.in_(list(stamps)))
    out: dict[int, Any] = {}
    try:
        with store.engine.connect() as conn:
            for rid, stamp, value in conn.execute(q):
                if stamps.get(int(rid)) == stamp and value is not None:
                    out[int(rid)] = value
    except sa.exc.SQLAlchemyError:  # a role that may not read it: recompute everything
        return {}
    return out


def entries(store: Store, ids: Sequence[int], *, use_cache: bool = True) -> dict[int, Entry]:
    """The summary of each run in ``ids`` (those that exist), from the cache where it is
    current, else recomputed from the raw rows (and the cache refreshed)."""
    from rigbench.jobs.summary import _run_json

    if not ids:
        return {}
    stamps = _stamps(store, ids)
    cache = store.t.get(TABLE) if use_cache else None
    have = _read(store, cache, "summary", stamps) if cache is not None else {}
    out = {rid: Entry(s, stamps[rid]) for rid, s in have.items() if isinstance(s, dict)}
    missing = [rid for rid in stamps if rid not in out]
    fresh: list[dict[str, Any]] = []
    for rid, run in _run_rows(store, missing).items() if missing else ():
        rows = store.requests(rid)
        summary = _run_json(store, rid, run=run, rows=rows)
        out[rid] = Entry(summary, stamps[rid])
        payload, dec = _strict(summary), _strict([[d, v] for d, v in sorted(decode_by_depth(rows).items())])
        if payload is not None:
            fresh.append({"run_id": rid, "derivation_version": DERIVATION_VERSION, "stamp": stamps[rid],
                          "summary": payload, "decode": dec, "created_at": now_iso()})
    if cache is not None and fresh:
        _write(store, cache, fresh, lambda chunk: cache.c.run_id.in_([r["run_id"] for r in chunk]))
    return out


def decodes(store: Store, found: Sequence[Entry]) -> dict[int, dict[int, list[float | None]]]:
    """The decode rates by depth of each run (``decode_by_depth``), from the cache where it is
    current, else from the raw rows."""
    stamps = {int(e.summary["run_id"]): e.stamp for e in found}
    cache = store.t.get(TABLE)
    have = _read(store, cache, "decode", stamps) if cache is not None and stamps else {}
    out = {rid: {int(d): list(v) for d, v in dec} for rid, dec in have.items() if isinstance(dec, list)}
    for rid in stamps:
        if rid not in out:
            out[rid] = decode_by_depth(store.requests(rid, phase="speed"))
    return out


def changes(store: Store, pairs: Sequence[tuple[Entry, Entry]],
            compute: Callable[[dict[int, list[float | None]], dict[int, list[float | None]]], dict[str, Any]]
            ) -> list[dict[str, Any]]:
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
    def current(k: tuple[int, int, str]) -> bool:
        got = have.get((k[0], k[1]))
        return got is not None and got[0] == k[2] and isinstance(got[1], dict)

    todo = [e for (a, b), k in zip(pairs, key, strict=True) if not current(k) for e in (a, b)]
    dec = decodes(store, todo) if todo else {}
    out: list[dict[str, Any]] = []
    fresh: list[dict[str, Any]] = []
    for (pa, pb, stamp) in key:
        if current((pa, pb, stamp)):
            out.append(have[(pa, pb)][1])
            continue
        change = compute(dec[pa], dec[pb])
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
