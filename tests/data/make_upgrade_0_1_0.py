"""Writes tests/data/upgrade-0.1.0.sqlite with release 0.1.0's code (commit 61b533d): the
quality pass's answers as 0.1.0 stored them (scores in ``requests.extra``, the aggregate in
``runs.extra["quality"]``), a session, a tune and labs with the figures 0.1.0 froze into
``runs.extra``, for tests/test_answers_migration.py.

    git worktree add --detach /tmp/rb-0.1.0 61b533d
    PYTHONPATH=/tmp/rb-0.1.0/src python tests/data/make_upgrade_0_1_0.py OUT.sqlite

Run 1: mixed answers, two repeats, one answer failing twice (scored 0), one reasoning
answer cut off and asked again, a judge with one unreadable reply. Run 2: a pass
resumed with a second repeat. Run 3: an incomplete pass (no aggregate was written).

Run 4, an agent session (its figures in ``runs.extra["session"]``), was added with
0.1.0's CLI against the fake server:

    python -m rigbench.testing.fake_server --port 18731 \
        --script '{"rate_tok_s": 400, "tokens": 16, "timings": true, "tokenize": true, "props": true}' &
    PYTHONPATH=/tmp/rb-0.1.0/src python -m rigbench run --url http://127.0.0.1:18731/v1 --session agent \
        --no-quality --gen-tokens 16 --db OUT.sqlite

Runs 5 (tune), 6 and 7 (labs) came from 0.1.0's CLI with its fake llama-server (a
``llama-server`` shell script running ``rigbench.testing.fake_llama_server`` from the 0.1.0
tree; for run 7 a wrapper that adds a ``chat_template`` to ``/props``, so the lab asks in
chat), ``RIGBENCH_FAKE_SCRIPT='{"rate_tok_s": 300, "tokens": 16, "timings": true,
"tokenize": true, "props": true}'``:

    rigbench tune --server BIN --space ub=512,1024 ctk=f16,q8_0 --objective decode@1k --repeats 3 \
        --gen-tokens 16 --db OUT.sqlite
    rigbench lab --server BIN --kv q8_0 --depths 0,512 --repeats 3 --gen-tokens 16 --db OUT.sqlite  # 6: 404s
    rigbench lab --server BIN_CHAT --kv q8_0 --depths 0,512 --repeats 3 --gen-tokens 16 --db OUT.sqlite

``tests/data/upgrade-0.1.0-show.json`` holds each run's ``show --json`` ({"1": ..., "7": ...})
as main printed it at 97a1d94 (before issue 13 moved the figures to rows), on a copy of
the database: ``PYTHONPATH=<97a1d94>/src python -m rigbench show $i --json --db COPY``.
"""

from __future__ import annotations

import sqlite3
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import rigbench
from rigbench.quality import judge as judge_mod
from rigbench.quality.runner import run_quality
from rigbench.store import open_store
from rigbench.types import EngineSpec, RequestRecord, ServerFacts

assert rigbench.__version__ == "0.1.0", rigbench.__version__

SUITE = """
name: mini
version: "1"
prompts:
  - {id: c1, category: code, max_tokens: 64, prompt: "Write add(a, b). [c1]",
     tests: ["assert add(1, 2) == 3", "assert add(0, 0) == 0"]}
  - {id: q1, category: reasoning, max_tokens: 32, prompt: "What is 2 + 2? [q1]", answer: 4}
  - {id: q2, category: reasoning, max_tokens: 32, prompt: "What is 3 + 3? [q2]", answer: 6}
  - {id: i1, category: instruction, max_tokens: 32, prompt: "Say hello in lowercase. [i1]",
     checks: [{lowercase: true}, {required: [hello]}], judge: "Is it friendly?"}
  - {id: e1, category: extraction, max_tokens: 32, prompt: "Extract the name: Ada. [e1]", fields: {name: Ada}}
  - {id: l1, category: long_context, max_tokens: 8, needle: "The code word is plover.", depth: 0.25,
     prompt: "What is the code word? [l1]", answer: plover}
"""
RIGHT = {"c1": "```python\ndef add(a, b):\n    return a + b\n```", "q1": "Answer: 4", "q2": "Answer: 6",
         "i1": "hello there, friend", "e1": '{"name": "Ada"}', "l1": "plover"}
WRONG = {"c1": "```python\ndef add(a, b):\n    return None\n```", "q1": "Answer: 5", "q2": "Answer: 7",
         "i1": "GOODBYE", "e1": "Ada Lovelace.", "l1": "5521"}


def rec(content: str, *, gen: int = 21, rate: float = 50.0, status: str = "ok", error: str | None = None,
        reasoning: str = "", reasoning_tokens: int | None = 0, finish: str = "stop") -> RequestRecord:
    t0 = time.perf_counter_ns()
    first = t0 + 2_000_000
    last = first + int((gen - 1) / rate * 1e9)
    return RequestRecord(status=status, t_sent_ns=t0, t_first_token_ns=first, t_first_content_ns=first,  # type: ignore[arg-type]
                         t_last_token_ns=last, t_end_ns=last + 1000, content=content, reasoning=reasoning,
                         prompt_tokens=100, completion_tokens=gen, reasoning_tokens=reasoning_tokens,
                         finish_reason=finish, error=error, think_unclosed=bool(reasoning) and not content)


class Client:
    def __init__(self, facts: ServerFacts, answer: Any) -> None:
        self.facts, self.answer, self.model, self.can_tokenize, self.n = facts, answer, "fake", False, 0

    def _tag(self, text: str) -> str:
        return text.rsplit("[", 1)[-1].split("]", 1)[0]

    def chat(self, messages: list[dict[str, str]], *, max_tokens: int, **kw: Any) -> RequestRecord:
        self.n += 1
        return self.answer(self._tag(messages[-1]["content"]), max_tokens, self.n)

    def count_tokens(self, text: str) -> int | None:
        return None


class Session:
    def __init__(self, answer: Any) -> None:
        self.facts = ServerFacts(base_url="http://fake/v1", kind="url", granted_context=8192, chat_template=True)
        self.client = Client(self.facts, answer)

    def server_alive(self) -> bool:
        return True


class Judge:
    url, model = "http://judge/v1", "judge-model"
    n = 0

    def __init__(self, url: str, **kw: Any) -> None:
        pass

    def rate(self, task: str, answer: str, rubric: str) -> Any:
        Judge.n += 1
        score = None if Judge.n == 2 else 3 + Judge.n % 2
        return judge_mod.Rating(score, rec(f"Fine.\nScore: {score}" if score else "no idea"))

    def __enter__(self) -> Judge:
        return self

    def __exit__(self, *exc: Any) -> None:
        pass


def progress() -> Any:
    return SimpleNamespace(stage=lambda t: None, begin=lambda n, t: None, advance=lambda t=None: None,
                           end=lambda: None)


def main(out: Path) -> None:
    judge_mod.Judge = Judge  # type: ignore[misc]
    tmp = Path(tempfile.mkdtemp())
    suite = tmp / "mini.yaml"
    suite.write_text(SUITE)
    out.unlink(missing_ok=True)
    store = open_store(out)

    def run(params: dict[str, Any], answer: Any, rid: int | None = None) -> int:
        rid = rid or store.create_run(kind="run", spec=EngineSpec(kind="url", url="http://fake/v1"), params={},
                                      command="rigbench run --url http://fake/v1", machine={"hostname": "fixture"},
                                      tool_version="0.1.0")
        try:
            run_quality(Session(answer), store, rid, progress=progress(), note=lambda t: store.add_note(rid, t),
                        opts=SimpleNamespace(extra_params={"suite": str(suite), **params}))
            store.finish_run(rid, "complete")
        except Exception as exc:
            store.finish_run(rid, "incomplete", str(exc))
        return rid

    def mixed(tag: str, max_tokens: int, n: int) -> RequestRecord:
        if tag == "q2":
            return rec("", status="error", error="HTTP 500: boom")
        if tag == "e1" and max_tokens < 1000:
            return rec("", reasoning="Let me think " * 20, reasoning_tokens=200, finish="length")
        if tag == "e1":
            return rec(RIGHT[tag], reasoning="Hm.", reasoning_tokens=3)
        return rec((RIGHT if n % 3 else WRONG)[tag], gen=20 + n, rate=40.0 + n)

    run({"quality_repeats": 2, "judge_url": "http://judge/v1", "quality_reasoning_tokens": 512}, mixed)
    rid = run({"quality_repeats": 1}, lambda tag, m, n: rec(RIGHT[tag], rate=60.0 + n))
    run({"quality_repeats": 2}, lambda tag, m, n: rec(WRONG[tag], rate=30.0 + n), rid)

    def dies(tag: str, max_tokens: int, n: int) -> RequestRecord:
        if n > 4:
            raise RuntimeError("the server went away")
        return rec(RIGHT[tag])

    run({"quality_repeats": 1}, dies)
    store.close()
    con = sqlite3.connect(out)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.execute("PRAGMA journal_mode=DELETE")
    con.execute("VACUUM")
    con.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
