"""The tune_trials table (migration 0002) and the memory check (no engine)."""

from __future__ import annotations

from pathlib import Path

from rigbench.engines.bundled import bundled_model_path
from rigbench.store import open_store
from rigbench.store.migrations import applied_migrations
from rigbench.store.trials import add_trial, get_trial, list_trials, update_trial
from rigbench.tune.fit import MemoryCheck


def test_trials_are_stored_and_replaced_on_resume(tmp_path: Path) -> None:
    store = open_store(tmp_path / "r.db")
    try:
        with store.engine.connect() as conn:
            assert "0002_tune_trials" in applied_migrations(conn)
        run_id = store.create_run(kind="tune", spec=None, params={}, command="rigbench tune", machine={},
                                  tool_version="test")
        add_trial(store, run_id, 0, config={}, config_key="|", status="running")
        add_trial(store, run_id, 1, config={"t": "2"}, config_key="|t=2", status="running", hypothesis="h")
        update_trial(store, run_id, 1, status="measured", decision="keep", reason="r",
                     figures={"prefill": [1.0], "decode": [2.0]}, extra={"score": 1.5})
        add_trial(store, run_id, 0, config={}, config_key="|", status="measured")  # re-measured after a crash
        rows = list_trials(store, run_id)
        assert [(r["n"], r["status"]) for r in rows] == [(0, "measured"), (1, "measured")]
        one = get_trial(store, run_id, 1)
        assert one is not None and one["figures"]["decode"] == [2.0] and one["extra"]["score"] == 1.5
        assert get_trial(store, run_id, 5) is None
    finally:
        store.close()


def test_memory_check_rejects_what_cannot_fit() -> None:
    check = MemoryCheck(str(bundled_model_path()))
    assert check.problem({"c": "32768"}, available=64 * 2**30) is None
    why = check.problem({"c": "32768"}, available=2**20)
    assert why is not None and "GiB" in why and "available" in why
    small = check.need_bytes({"c": "4096"})
    big = check.need_bytes({"c": "32768"})
    quant = check.need_bytes({"c": "32768", "ctk": "q8_0", "ctv": "q8_0", "fa": "on"})
    assert small is not None and big is not None and quant is not None and small < big and quant < big
    assert check.problem({"c": "32768", "ngl": "99"}, available=1) is None  # GPU memory is not ours to judge
    assert MemoryCheck(None).problem({"c": "1"}, available=1) is None
