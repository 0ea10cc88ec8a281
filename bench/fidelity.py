"""Fidelity: rigbench's client-side decode rate against llama.cpp's own
``predicted_per_second``, on the real embedded engine (bundled model), over N requests.
Goal: median gap <= 1%.

    python bench/fidelity.py [--requests 12] [--gen-tokens 256]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import tempfile
from pathlib import Path

from rigbench.jobs.session import open_session
from rigbench.measure.speed import figures, gap_pct, row_from_record
from rigbench.model.machine import machine_facts
from rigbench.types import EngineSpec
from rigbench.workload.text import corpus_slice


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=12)
    ap.add_argument("--gen-tokens", type=int, default=256)
    args = ap.parse_args()
    m = machine_facts()
    print(f"machine: {m['hostname']} · {m['cpu']} · {m['cores']} cores · python {platform.python_version()}")
    with tempfile.TemporaryDirectory() as tmp, open_session(EngineSpec(kind="embedded"), Path(tmp)) as session:
        print(f"engine: {session.facts.build} · model {Path(session.facts.model_path or '').name}")
        session.client.chat([{"role": "user", "content": "warm up"}], max_tokens=8)
        gaps = []
        print(f"{'#':>3} {'client tok/s':>12} {'server tok/s':>12} {'gap %':>7}")
        for i in range(args.requests):
            text = corpus_slice(600, offset=i * 5000)
            rec = session.client.chat([{"role": "user", "content": text}], max_tokens=args.gen_tokens, exact=True,
                                      temperature=0.0)
            f = figures(row_from_record(rec))
            g = gap_pct(f.decode_tok_s, f.decode_tok_s_server)
            assert g is not None, rec.error
            gaps.append(g)
            print(f"{i + 1:>3} {f.decode_tok_s:>12.2f} {f.decode_tok_s_server:>12.2f} {g:>+7.2f}")
    print(f"median gap {statistics.median(gaps):+.2f}% · median |gap| {statistics.median(abs(g) for g in gaps):.2f}% "
          f"over {len(gaps)} requests of {args.gen_tokens} tokens (goal <= 1%)")


if __name__ == "__main__":
    main()
