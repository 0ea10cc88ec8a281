"""Golden text: the cards people read, rendered by the CLI on a colourless 100-column console
and compared character for character with tests/golden/text/.

The cards come from the runs of the 0.1.0 fixture database (tests/data/rigbench-0.1.0.sqlite),
so every figure, date and name on them is a stored one; the inspect table comes from a
synthetic GGUF (tests/gguf_factory.py) given by a relative path. A deliberate change of a
card is reviewed in the diff, then ``RIGBENCH_UPDATE_GOLDEN=1 pytest tests/test_golden_text.py``
rewrites the files.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from gguf_factory import deepseek_like, llama_like, write_gguf
from golden_util import CARDS, WIDTH, check_text, copy_fixture, normalise


@pytest.fixture(autouse=True)
def _plain_console(monkeypatch: pytest.MonkeyPatch) -> None:
    """What rich reads to pick colours and a width, fixed whatever terminal runs the tests."""
    for var in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "CLICOLOR_FORCE", "COLORTERM"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("COLUMNS", str(WIDTH))
    monkeypatch.setenv("LINES", "50")
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("TERM", "dumb")


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_fixture(tmp_path_factory.mktemp("golden-text"))


def _no_line_wider_than_the_console(text: str) -> None:
    wide = [ln for ln in text.splitlines() if len(ln.rstrip()) > WIDTH]
    assert not wide, f"{len(wide)} lines wider than {WIDTH} columns: {wide[0]!r}"


@pytest.mark.parametrize("name", list(CARDS))
def test_card(db: Path, cli, name: str) -> None:
    run_id = CARDS[name][0]
    r = cli("show", str(run_id), "--db", str(db))
    assert r.code == 0, r.err
    assert "\x1b[" not in r.out, "colour codes on a NO_COLOR console"
    _no_line_wider_than_the_console(r.out)
    check_text(f"{name}.txt", normalise(r.out, db))


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("gguf")
    kv, tensors = llama_like(extra={"{arch}.rope.scaling.type": "yarn", "{arch}.rope.scaling.factor": 4.0,
                                    "{arch}.rope.scaling.original_context_length": 8192})
    write_gguf(folder / "dense.gguf", "llama", kv, tensors)
    write_gguf(folder / "moe.gguf", "deepseek2", *deepseek_like(), split_max_tensors=25)
    return folder


@pytest.mark.parametrize(("name", "args"), [
    ("inspect_dense", ("dense.gguf", "--ctx", "16k", "--bandwidth", "800GB/s", "--prefill-tok-s", "185@2k,86@5460")),
    ("inspect_moe_shards", ("moe-00001-of-00003.gguf", "--cache-type", "q8_0", "--bandwidth", "M3 Ultra")),
    ("inspect_no_bandwidth", ("dense.gguf",)),
])
def test_inspect_table(models: Path, cli, monkeypatch: pytest.MonkeyPatch, name: str, args: tuple[str, ...]) -> None:
    monkeypatch.chdir(models)  # the table names the file as given: a relative path, the same everywhere
    r = cli("inspect", *args)
    assert r.code == 0, r.err
    assert str(models) not in r.out
    _no_line_wider_than_the_console(r.out)
    check_text(f"{name}.txt", r.out)
