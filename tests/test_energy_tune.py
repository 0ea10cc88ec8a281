"""rigbench tune --objective energy: the objective, each decode repeat's tokens per joule
from stored requests and readings, and the refusal where nothing can be read."""

from __future__ import annotations

import statistics
import sys
from pathlib import Path
from typing import Any

import pytest

from rigbench.energy.sampler import sync
from rigbench.errors import UsageError
from rigbench.store import open_store
from rigbench.store.energy import add_energy_samples
from rigbench.tune.energy import fill_energy
from rigbench.tune.objective import parse_objective, plan_workload, rep_scores, trial_score
from rigbench.tune.trial import TrialFigures
from rigbench.types import RequestRecord

S = 1_000_000_000


def test_energy_objective_parses_and_scores_tokens_per_joule() -> None:
    o = parse_objective("energy")
    assert (o.kind, o.depth, o.text) == ("energy", 4096, "energy@4k")
    assert parse_objective("energy@16k").depth == 16384
    assert "tokens per joule" in o.describe()
    wl = plan_workload(o, 512, None, 3)
    assert wl.decode_depth == 4096 and wl.prefill_tokens == 1024
    # a slower configuration that spends fewer joules per token wins: the score is tokens/J over the baseline's
    assert trial_score("energy", [1.0, 1.0], [2.4, 2.6], 1.0, 2.0) == pytest.approx(1.25)
    assert rep_scores("energy", [1.0], [None], 1.0, 2.0) == [None]
    f = TrialFigures(decode=[30.0, 31.0], energy=[2.0, 2.1])
    assert f.objective_decode("energy") == [2.0, 2.1] and f.objective_decode("decode") == [30.0, 31.0]
    assert TrialFigures.from_json(f.to_json()).energy == [2.0, 2.1]
    with pytest.raises(UsageError) as e:
        parse_objective("joules")
    assert "or energy" in e.value.one_line()


def _decode_rec(t0: float, secs: float, tokens: int) -> RequestRecord:
    rec = RequestRecord(t_sent_ns=int(t0 * S), t_first_token_ns=int((t0 + 0.2) * S),
                        t_last_token_ns=int((t0 + 0.2 + secs) * S), t_end_ns=int((t0 + 0.2 + secs) * S),
                        completion_tokens=tokens, prompt_tokens=100, status="ok")
    return rec


def test_fill_energy_from_stored_requests_and_readings(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "t.db"))
    try:
        run_id = store.create_run(kind="tune", spec=None, params={}, command="", machine={}, tool_version="t")
        # trial 1: two decode repeats of 101 tokens in 1 s and 2 s, under a steady 50 W
        for rep, (t0, secs) in enumerate([(10.0, 1.0), (20.0, 2.0)]):
            store.add_request(run_id, _decode_rec(t0, secs, 101), phase="tune", depth=4096, rep=rep,
                              role="trial1:decode", extra={"trial": 1, "stage": "search"})
        store.add_request(run_id, _decode_rec(40.0, 1.0, 101), phase="tune", depth=4096, rep=0,
                          role="trial1:decode", extra={"trial": 1, "stage": "final"})
        add_energy_samples(store, run_id, [
            {"session": 1, "source": "fake", "channel": "x", "covers": "system", "kind": "counter", "phase": "run",
             "t_ns": t * S, "value": 50.0 * t, "wrap": None} for t in (5, 15, 25, 35)])
        sync(run_id)  # no sampler runs for it: nothing happens
        figs = {1: TrialFigures(decode=[100.0, 50.0, None])}
        assert fill_energy(store, run_id, figs, stage="search")
        # 100 tokens / 50 J and 100 tokens / 100 J; the third repeat was never stored
        assert figs[1].energy[:2] == pytest.approx([2.0, 1.0]) and figs[1].energy[2] is None
        final = {1: TrialFigures(decode=[100.0])}
        assert not fill_energy(store, run_id, final, stage="final")  # 40 s is after the last reading
        assert final[1].energy == [None]
    finally:
        store.close()


def test_energy_objective_without_a_power_source_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                            cli: Any) -> None:
    monkeypatch.setenv("RIGBENCH_POWERCAP_ROOT", str(tmp_path / "none"))
    monkeypatch.setitem(sys.modules, "pynvml", None)
    monkeypatch.setitem(sys.modules, "amdsmi", None)
    r = cli("tune", "--space", "t=1,2", "--objective", "energy", "--db", str(tmp_path / "t.db"))
    assert r.code == 2
    assert "--objective energy needs a power source; energy: no power source here (checked NVML, amdsmi, RAPL, " \
           "IOReport)" in " ".join(r.err.split())


def test_energy_campaign_end_to_end_with_a_wall_meter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      cli: Any) -> None:
    """A campaign over a stand-in llama-server, scored in tokens per joule from --power-cmd's watts."""
    exe = tmp_path / "llama-server"
    exe.write_text(f"#!/bin/sh\nexec {sys.executable} -m rigbench.testing.fake_llama_server \"$@\"\n")
    exe.chmod(0o755)
    monkeypatch.setenv("RIGBENCH_FAKE_SCRIPT", '{"rate_tok_s": 300, "tokens": 32, "timings": true}')
    import rigbench.energy.sampler as sampler

    monkeypatch.setattr(sampler, "DEFAULT_IDLE_S", 0.2)
    db = str(tmp_path / "t.db")
    r = cli("tune", "--server", str(exe), "--space", "t=1,2", "--objective", "energy@256", "--budget", "1",
            "--repeats", "2", "--power-cmd", "echo 80", "--json", "--db", db)
    assert r.code == 0, r.err
    from rigbench.store.trials import list_trials

    store = open_store(db)
    try:
        trials = list_trials(store, int(r.json()["campaign_id"]))
    finally:
        store.close()
    measured = [t for t in trials if t["status"] == "measured"]
    assert len(measured) == 2
    for t in measured:
        dec, tpj = t["figures"]["decode"], t["figures"]["energy"]
        assert len(tpj) == len(dec) == 2
        # 80 W steady: tokens per joule is decode tok/s / 80, repeat by repeat
        assert tpj == pytest.approx([d / 80.0 for d in dec], rel=1e-3)
    # derived again on read (tune.result): the same tokens per joule, and the score is their ratio to the defaults'
    shown = {t["n"]: t for t in r.json()["trials"]}
    base = shown[0]["tokens_per_joule"]
    assert base == pytest.approx(statistics.median(measured[0]["figures"]["energy"]), rel=1e-6)
    n = measured[1]["n"]
    assert shown[n]["score"] == pytest.approx(shown[n]["tokens_per_joule"] / base, rel=1e-6)


def test_lab_arms_energy(tmp_path: Path) -> None:
    from rigbench.jobs.energy import arms_energy

    store = open_store(str(tmp_path / "l.db"))
    try:
        run_id = store.create_run(kind="lab", spec=None, params={}, command="", machine={}, tool_version="t")
        # under a steady 60 W: the baseline decodes 100 tokens in 2 s, the lookup arm in 1 s
        for i, (role, secs) in enumerate([("baseline", 2.0), ("lookup", 1.0), ("baseline", 2.0), ("lookup", 1.0)]):
            store.add_request(run_id, _decode_rec(10.0 + 5 * i, secs, 101), phase="lab", depth=0, rep=i // 2,
                              role=role)
        add_energy_samples(store, run_id, [
            {"session": 1, "source": "fake", "channel": "x", "covers": "system", "kind": "counter", "phase": "run",
             "t_ns": t * S, "value": 60.0 * t, "wrap": None} for t in (5, 50)])
        out = arms_energy(store, run_id, store.requests(run_id, phase="lab"))
    finally:
        store.close()
    assert out["baseline"]["j_per_token"] == pytest.approx(1.2) and out["lookup"]["j_per_token"] == pytest.approx(0.6)
    assert out["lookup"]["watts"] == pytest.approx(60.0) and out["lookup"]["prefill_j_per_token"] is None
