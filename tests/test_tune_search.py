"""The search loop without an engine: exhaustive order, optuna TPE with its study in the
results database, duplicates answered from the store, and resume (trials measured once)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from rigbench.jobs.progress import NullProgress
from rigbench.store import open_store
from rigbench.store.trials import add_trial, list_trials
from rigbench.tune import campaign as cp
from rigbench.tune.objective import Workload, parse_objective
from rigbench.tune.space import Config, parse_space
from rigbench.tune.trial import TrialFigures


def _fake_score(cfg: Config) -> float:
    f = cfg.flags_dict()
    return int(f.get("t", "1")) / 4 + int(f.get("ub", "512")) / 4096 + (0.1 if f.get("fa") == "on" else 0.0)


def _campaign(db: str, space_words: list[str], budget: int | None, resume: int | None = None) -> Any:
    opts = cp.TuneOptions(space=parse_space(space_words), objective=parse_objective("decode@512"),
                          budget_trials=budget, db=db, seed=3)
    store = open_store(db)
    c = cp._Campaign(store, opts, NullProgress(), resume)
    if resume is None:
        c.run_id = store.create_run(kind="tune", spec=None, params=opts.params(), command="test", machine={},
                                    tool_version="test")
        add_trial(store, c.run_id, 0, config={}, config_key=Config().key(), status="measured", decision="keep",
                  extra={"score": 1.0})
        c.trials[0] = cp._Trial(0, Config(), "measured", TrialFigures([1.0], [1.0]), 1.0, "keep")
    else:
        c.run_id = resume
        c._load()
    c.workload = Workload(128, 0, 16, 2)
    return c


@pytest.fixture
def fake_trials(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    measured: list[str] = []

    def trial(self: Any, n: int, cfg: Config, optuna_number: int | None = None) -> Any:
        measured.append(cfg.key())
        s = _fake_score(cfg)
        add_trial(self.store, self.run_id, n, config=cfg.to_json(), config_key=cfg.key(), status="measured",
                  decision="keep", extra={"score": s, "optuna_trial": optuna_number})
        t = cp._Trial(n, cfg, "measured", TrialFigures([s], [s]), s, "keep")
        self.trials[n] = t
        return t

    monkeypatch.setattr(cp._Campaign, "_trial", trial)
    return measured


def test_small_space_is_searched_exhaustively_in_order(tmp_path: Path, fake_trials: list[str]) -> None:
    c = _campaign(str(tmp_path / "r.db"), ["t=1,2", "ub=128,512"], None)
    c._search()
    assert fake_trials == [k.key() for k in parse_space(["t=1,2", "ub=128,512"]).configs()]
    c.store.close()


def test_large_space_uses_tpe_with_the_study_in_the_same_database(tmp_path: Path, fake_trials: list[str]) -> None:
    import optuna

    db = str(tmp_path / "r.db")
    words = ["t=1,2,3,4", "ub=128,256,512,1024", "fa=on,off"]  # 32 configurations
    c = _campaign(db, words, 6)
    c._search()
    assert len(fake_trials) == 6 and len(set(fake_trials)) == 6  # nothing measured twice
    study = optuna.load_study(study_name=f"rigbench-tune-{c.run_id}", storage=f"sqlite:///{db}")
    assert sum(t.state.name == "COMPLETE" for t in study.trials) >= 6
    run_id = c.run_id
    c.store.close()
    # a later invocation (resume) continues the same study and never repeats a configuration
    c2 = _campaign(db, words, 10, resume=run_id)
    c2._search()
    assert len(fake_trials) == 10 and len(set(fake_trials)) == 10
    rows = list_trials(c2.store, run_id)
    assert [r["n"] for r in rows] == list(range(11))
    assert all((r["extra"] or {}).get("optuna_trial") is not None for r in rows[1:])
    c2.store.close()


def test_tpe_stops_when_the_space_is_exhausted(tmp_path: Path, fake_trials: list[str]) -> None:
    words = ["t=1,2,3,4,5,6,7", "ub=128,512"]  # 14 configurations, budget larger than the space
    c = _campaign(str(tmp_path / "r.db"), words, 40)
    c._search()
    assert sorted(fake_trials) == sorted(k.key() for k in parse_space(words).configs())
    c.store.close()
