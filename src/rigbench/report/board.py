"""The leaderboard, the one place its rows are made: ``rigbench board`` (terminal, markdown, csv,
json) and the HTML report's board both take their rows from here, from typed results (no measuring).

Columns in the shape people post (Model | Quant | Quality /5 | Decode tok/s | Disk) and
more: decode, prefill and TTFT at the working depth (or the deepest depth measured below
it, which the cell names), native context, % of the decode ceiling where the run knows
it, the verdict, and the machine and engine each row was measured on.

Quality scores of different suites or suite versions are not comparable: each row carries
its suite (``quality_suite``, e.g. "default 1.1"); when a board holds more than one, sorting
by quality ranks each suite's rows apart (the suite of the newest run first, its newest
version first), and every quality cell is marked with its suite in the footnote.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

from rich import box
from rich.table import Table

from rigbench.report.safe import md_cell, one_line, safe_text, visible
from rigbench.results import AnyResult, CompareResult, LoadResult, RunResult
from rigbench.units import electricity_per_mtok, fmt_disk, fmt_num, fmt_tokens

__all__ = [
    "ENERGY_HEADERS",
    "HEADERS",
    "BoardRow",
    "SortKey",
    "api_line",
    "board_csv",
    "board_json",
    "board_markdown",
    "board_row",
    "board_table",
    "build_board",
    "compare_rows",
    "fmt_tokens",
    "result_rows",
    "suite_order",
]

SortKey = Literal["quality", "decode"]
HEADERS = ("Model", "Quant", "Quality /5", "Decode tok/s", "Prefill tok/s", "TTFT ms", "Disk", "Native ctx",
           "% of ceiling", "Verdict", "Machine", "Engine", "Run")


@dataclass(frozen=True)
class BoardRow:
    run_id: int
    status: str
    created_at: str | None
    model: str
    quant: str | None
    quality: float | None
    quality_ci: tuple[float, float] | None
    decode_tok_s: float | None
    depth: int | None  # where decode, prefill and TTFT were taken
    working_depth: int | None
    prefill_tok_s: float | None
    ttft_ms: float | None
    disk_bytes: int | None
    native_context: int | None
    pct_of_ceiling: float | None
    verdict: str | None
    machine: str
    engine: str
    config: str  # what makes two runs the same configuration
    session: bool = False  # decode, prefill and TTFT are an agent session's medians over its turns
    quality_suite: str | None = None  # "name version" of the suite the quality score is from
    # a load run (rigbench load): its best aggregate, at how many streams, and its knee
    best_aggregate_tok_s: float | None = None
    best_concurrency: int | None = None
    knee: int | None = None
    load: bool = False
    j_per_token: float | None = None  # gross decode joules per generated token at ``depth``
    energy_covers: str | None = None  # what the power source measured (cpu_package + dram, gpu_board, system)
    electricity_per_mtok: float | None = None  # electricity for 1M generated tokens, at the run's (or board's) price
    currency: str = ""
    label: str | None = None  # what the HTML board calls the row ("compare 3 · A (...)"); not in --json

    @property
    def at_working_depth(self) -> bool:
        return self.depth is not None and self.depth == self.working_depth

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["quality_ci"] = list(self.quality_ci) if self.quality_ci else None
        d["at_working_depth"] = self.at_working_depth
        del d["label"]
        return d


def _engine_label(kind: str | None, base_url: str | None, flags: Mapping[str, Any]) -> str:
    label = str(kind or "?")
    if label == "url" and base_url:
        label = str(base_url)
    if flags:
        label += " " + " ".join(f"-{k} {v}" for k, v in sorted(flags.items()))
    return label


def load_row(s: LoadResult) -> BoardRow:
    """One row from a load run's result: decode and TTFT are the per-stream ones at the knee."""
    model, e, knee = s.model, s.engine, s.knee.concurrency
    at_knee = s.level(knee)
    hostname = s.machine.get("hostname")
    url = e.base_url if e.kind == "url" else ""
    config = "|".join(str(x) for x in (hostname, e.kind, url, sorted(e.flags.items()), model.name, model.quant,
                                        model.path or e.served_model, "load"))
    return BoardRow(
        run_id=s.run_id, status=s.status or "?", created_at=s.created_at,
        model=str(model.name or e.served_model or "?"), quant=model.quant,
        quality=None, quality_ci=None, decode_tok_s=at_knee.per_stream_decode_tok_s if at_knee else None,
        depth=None, working_depth=None, prefill_tok_s=None, ttft_ms=at_knee.ttft_ms_p50 if at_knee else None,
        disk_bytes=model.file_bytes, native_context=model.native_context, pct_of_ceiling=None,
        verdict=None, machine=str(hostname or "?"), engine=_engine_label(e.kind, e.base_url, e.flags), config=config,
        best_aggregate_tok_s=s.best.aggregate_tok_s if s.best else None,
        best_concurrency=s.best.concurrency if s.best else None, knee=knee, load=True,
    )


def _energy(params: Mapping[str, Any], energy: Mapping[str, Any] | None,
            price: Mapping[str, Any] | None) -> tuple[float | None, str | None, float | None, str]:
    """J/token at the row's depth, what it covers, and the electricity for 1M tokens at ``price``
    (the board's ``--electricity-price``) or at the price stored with the run."""
    e = energy or {}
    jpt = e.get("j_per_token")
    price = price or (params.get("prices") or {}).get("electricity")
    if jpt is None or not price:
        return jpt, e.get("covers"), None, ""
    return jpt, e.get("covers"), electricity_per_mtok(float(jpt), float(price["value"])), \
        str(price.get("currency") or "")


def board_row(s: RunResult | LoadResult, electricity: Mapping[str, Any] | None = None) -> BoardRow:
    """One row from a run's result (or a load run's); ``electricity`` ({"value", "currency"}
    per kWh) prices every row alike."""
    if isinstance(s, LoadResult):
        return load_row(s)
    model, e, v = s.model, s.engine, s.verdict
    depth = v.at_depth if v is not None else None
    point = s.point_at(depth)
    jpt, covers, elec, currency = _energy(s.params, point.more.get("energy") if point is not None else None,
                                          electricity)
    prefill, ttft = (point.prefill_tok_s, point.ttft_ms) if point is not None else (None, None)
    session = v is not None and v.basis == "session"
    if session:  # an agent session: its medians over turns
        ses = s.session
        prefill, ttft = (ses.prefill_median_tok_s, ses.ttft_median_ms) if ses is not None else (None, None)
        point = None
    q = s.quality
    ci = q.ci if q is not None else None
    machine = s.machine
    url = e.base_url if e.kind == "url" else ""
    config = "|".join(str(x) for x in (machine.get("hostname"), e.kind, url, sorted(e.flags.items()),
                                        model.name, model.quant, model.path or e.served_model))
    if session:
        config += "|session"  # a session and a depth sweep of one configuration are different rows
    return BoardRow(
        run_id=s.run_id, status=s.status or "?", created_at=s.created_at,
        model=str(model.name or e.served_model or "?"), quant=model.quant,
        quality=q.score if q is not None else None,
        quality_ci=(float(ci[0]), float(ci[1])) if ci else None,
        decode_tok_s=v.decode_tok_s if v is not None else None, depth=depth,
        working_depth=v.working_depth if v is not None else None,
        prefill_tok_s=prefill, ttft_ms=ttft,
        disk_bytes=model.file_bytes, native_context=model.native_context,
        pct_of_ceiling=point.pct_of_ceiling if point is not None else None,
        verdict=v.cls if v is not None else None,
        machine=str(machine.get("hostname") or "?"), engine=_engine_label(e.kind, e.base_url, e.flags), config=config,
        session=session, quality_suite=_suite_label(q.suite, q.suite_version, q.score) if q is not None else None,
        j_per_token=jpt, energy_covers=covers, electricity_per_mtok=elec, currency=currency,
    )


def compare_rows(s: CompareResult) -> list[BoardRow]:
    """A compare's two sides, each as a row judged alone (its verdict from ``compare_summary``)."""
    rows = []
    for name in ("a", "b"):
        d = s.side(name)
        v = d.verdict
        depth = v.at_depth if v is not None else None
        session = s.mode == "session"
        point = next((p for p in s.depths if p.depth == depth), None) if not session else None
        ses = (s.sessions or {}).get(name)
        prefill = point.side(name, "prefill_tok_s") if point is not None else (
            ses.prefill_median_tok_s if session and ses is not None else None)
        ttft = point.side(name, "ttft_ms") if point is not None else (
            ses.ttft_median_ms if session and ses is not None else None)
        rows.append(BoardRow(
            run_id=s.compare_id, status=s.status, created_at=s.created_at, model=str(d.model or "?"), quant=d.quant,
            quality=None, quality_ci=None, decode_tok_s=v.decode_tok_s if v is not None else None, depth=depth,
            working_depth=v.working_depth if v is not None else None, prefill_tok_s=prefill, ttft_ms=ttft,
            disk_bytes=None, native_context=d.native_context, pct_of_ceiling=None,
            verdict=v.cls if v is not None else None, machine=str(s.machine.get("hostname") or "?"),
            engine=_engine_label(d.engine_kind, d.base_url, d.flags), config=f"compare {s.compare_id} {name}",
            session=session, label=f"compare {s.compare_id} · {name.upper()} ({d.text})"))
    return rows


def result_rows(results: Iterable[AnyResult]) -> list[BoardRow]:
    """The rows of the given results as they are (no filter, no order): a run gives one, a
    compare one per side; a lab (its own table of techniques) and a tune campaign give none."""
    rows: list[BoardRow] = []
    for r in results:
        if isinstance(r, RunResult):
            rows.append(board_row(r))
        elif isinstance(r, CompareResult):
            rows += compare_rows(r)
    return rows


def _suite_label(suite: str | None, version: Any, score: float | None) -> str | None:
    if score is None or not suite:
        return None
    return f"{suite} {version}" if version is not None else str(suite)


def _version_key(label: str) -> tuple[tuple[int, ...], str]:
    version = label.partition(" ")[2]  # a suite's name has no spaces; its version may
    return tuple(int(x) for x in re.findall(r"\d+", version)), version


def suite_order(rows: Sequence[BoardRow]) -> list[str | None]:
    """The quality suites on a board: the suite of the newest run first, each suite's versions
    newest version first; scores whose suite was not recorded last."""
    labels = {r.quality_suite for r in rows if r.quality is not None}
    newest: dict[str, int] = {}  # suite name -> its newest run
    for r in rows:
        if r.quality is not None and r.quality_suite is not None:
            name = r.quality_suite.partition(" ")[0]
            newest[name] = max(newest.get(name, -1), r.run_id)
    named = sorted((x for x in labels if x is not None), key=_version_key, reverse=True)
    named.sort(key=lambda x: -newest[x.partition(" ")[0]])  # stable: versions stay newest first
    return [*named, *([None] if None in labels else [])]


def _matches(value: str, wanted: str | None) -> bool:
    return wanted is None or wanted.casefold() in value.casefold()


def build_board(summaries: Iterable[RunResult | LoadResult], *, sort: SortKey = "quality",
                machine: str | None = None, engine: str | None = None, model: str | None = None,
                all_runs: bool = False, electricity: Mapping[str, Any] | None = None) -> list[BoardRow]:
    """Rows for the runs that measured something (complete or incomplete), filtered by
    machine, engine and model (case-insensitive substrings), the newest run of each
    configuration unless ``all_runs``, sorted best first."""
    rows = []
    for s in summaries:
        if s.status not in ("complete", "incomplete"):
            continue
        r = board_row(s, electricity)
        if r.decode_tok_s is None and r.quality is None and r.best_aggregate_tok_s is None:
            continue
        if _matches(r.machine, machine) and _matches(r.engine, engine) and _matches(r.model, model):
            rows.append(r)
    if not all_runs:
        newest: dict[str, BoardRow] = {}
        for r in rows:  # a complete run beats an incomplete one; then the newest wins
            cur = newest.get(r.config)
            if cur is None or ((r.status == "complete") > (cur.status == "complete")) or (
                    (r.status == "complete") == (cur.status == "complete") and r.run_id > cur.run_id):
                newest[r.config] = r
        rows = list(newest.values())

    suites = {label: i for i, label in enumerate(suite_order(rows))}

    def key(r: BoardRow) -> tuple[bool, int, float, bool, float, int]:
        first, second = (r.quality, r.decode_tok_s) if sort == "quality" else (r.decode_tok_s, r.quality)
        group = suites.get(r.quality_suite, 0) if sort == "quality" and r.quality is not None else 0
        return (first is None, group, -(first or 0.0), second is None, -(second or 0.0), -r.run_id)

    return sorted(rows, key=key)


# -- rendering ---------------------------------------------------------------------------
def _depth_tag(r: BoardRow) -> str:
    if r.session:
        return " (session)"
    if r.load:
        return " (knee)" if r.knee else ""
    if r.depth is None:
        return ""
    return f" @{fmt_tokens(r.depth) if r.depth else '0'}" + ("" if r.at_working_depth else "*")


def _short_url(url: str) -> str:
    for prefix in ("http://", "https://"):
        url = url.removeprefix(prefix)
    return url.removesuffix("/").removesuffix("/v1")


_MARKS = "¹²³⁴⁵⁶⁷⁸⁹"


def _suite_marks(rows: Sequence[BoardRow]) -> dict[str | None, str]:
    """A mark per quality suite when the board holds more than one, else none."""
    order = suite_order(rows)
    if len(order) < 2:
        return {}
    return {label: (_MARKS[i] if i < len(_MARKS) else f"({i + 1})") for i, label in enumerate(order)}


def _cells(r: BoardRow, marks: Mapping[str | None, str] | None = None) -> list[str]:
    mark = (marks or {}).get(r.quality_suite, "") if r.quality is not None else ""
    return [
        r.model,
        r.quant or "—",
        fmt_num(r.quality, 2) + mark,
        (fmt_num(r.decode_tok_s) + _depth_tag(r)) if r.decode_tok_s is not None else "—",
        fmt_num(round(r.prefill_tok_s) if r.prefill_tok_s is not None else None, 0),
        fmt_num(round(r.ttft_ms) if r.ttft_ms is not None else None, 0),
        fmt_disk(r.disk_bytes),
        fmt_tokens(r.native_context),
        f"{r.pct_of_ceiling:.0f}%" if r.pct_of_ceiling is not None else "",
        r.verdict or "—",
        r.machine,
        r.engine,
        str(r.run_id) + ("" if r.status == "complete" else " (incomplete)"),
    ]


LOAD_HEADERS = ("Best aggregate tok/s", "Knee (agents)")
ENERGY_HEADERS = ("J/token", "Power covers", "Electricity /1M tok")


def _has_load(rows: Sequence[BoardRow]) -> bool:
    return any(r.load for r in rows)


def _has_energy(rows: Sequence[BoardRow]) -> bool:
    return any(r.j_per_token is not None for r in rows)


def _headers(rows: Sequence[BoardRow]) -> tuple[str, ...]:
    """The board's columns: the two load columns only when it holds a load run, the energy
    columns (before Run) only when some row has a power source."""
    return (*HEADERS[:10], *(LOAD_HEADERS if _has_load(rows) else ()), *HEADERS[10:12],
            *(ENERGY_HEADERS if _has_energy(rows) else ()), HEADERS[12])


def _energy_cells(r: BoardRow) -> list[str]:
    from rigbench.energy.prices import Price

    cost = Price(r.electricity_per_mtok, r.currency).fmt(r.electricity_per_mtok) \
        if r.electricity_per_mtok is not None else "—"
    return [f"{r.j_per_token:.3g}" if r.j_per_token is not None else "—",
            (r.energy_covers or "—").replace("_", " "), cost]


def _row_cells(r: BoardRow, rows: Sequence[BoardRow], marks: Mapping[str | None, str] | None = None) -> list[str]:
    """A row's cells in ``_headers(rows)``'s order."""
    cells = _cells(r, marks)
    load: list[str] = []
    if _has_load(rows):
        load = [f"{fmt_num(r.best_aggregate_tok_s)} @{r.best_concurrency}" if r.best_aggregate_tok_s is not None
                else "—", str(r.knee) if r.knee is not None else ("none" if r.load else "—")]
    energy = _energy_cells(r) if _has_energy(rows) else []
    return [*cells[:10], *load, *cells[10:12], *energy, cells[12]]


def _footnote(rows: Sequence[BoardRow]) -> str:
    wd = next((r.working_depth for r in rows if r.working_depth), None)
    text = (f"Decode, prefill and TTFT at the working depth ({fmt_tokens(wd)}); * marks the deepest depth "
            "measured below it." if wd else "Decode, prefill and TTFT at the deepest depth measured.")
    if any(r.session for r in rows):
        text += " (session): an agent session's medians over its turns."
    if _has_load(rows):
        text += (" Load runs: decode is each stream's at the knee (the most streams at once that each kept the "
                 "run's SLO), best aggregate @ its streams.")
    if _has_energy(rows):
        text += (" J/token: gross decode joules per generated token there (idle draw included), over what the "
                 "power source covers; electricity for 1M tokens at the run's --electricity-price (or the board's).")
    text += " Quality: machine-graded, 0-5"
    order = suite_order(rows)
    marks = _suite_marks(rows)
    if marks:
        named = ", ".join(f"{marks[label]} {label or 'suite not recorded'}" for label in order)
        return text + f"; suites: {named}. Scores of different suites or versions are not comparable: " \
            "each is ranked apart."
    if order and order[0] is not None:
        return text + f" (suite {order[0]})."
    return text + "."


_NUMERIC = {"Quality /5", "Decode tok/s", "Prefill tok/s", "TTFT ms", "Disk", "Native ctx", "% of ceiling", "Run",
            *LOAD_HEADERS, "J/token", "Electricity /1M tok"}


def board_table(rows: Sequence[BoardRow], *, sort: SortKey = "quality") -> Table:
    """The board for a terminal: machine and engine under each model's name."""
    caption = _footnote(rows)
    if any(r.status != "complete" for r in rows):
        caption += " † an incomplete run."
    t = Table(title=f"Leaderboard · {len(rows)} configuration{'s' if len(rows) != 1 else ''} · by {sort}",
              title_justify="left", caption=caption, caption_justify="left", box=box.SIMPLE_HEAD, pad_edge=False,
              collapse_padding=True)
    marks = _suite_marks(rows)
    headers = _headers(rows)
    table_headers = [h for h in headers if h not in ("Machine", "Engine")]
    body = [[visible(c) for c in _row_cells(r, rows, marks)] for r in rows]  # widths from what is shown
    for h in table_headers:
        i = headers.index(h)
        cells = [str(r.run_id) + "†" for r in rows] if h == "Run" else [row[i] for row in body]
        # every column but the model's is exactly as wide as its values (headers wrap at spaces);
        # the model's name, machine and engine take what is left
        width = None if i == 0 else max([len(c) for c in cells] + [len(w) for w in h.split()])
        t.add_column(h, justify="right" if h in _NUMERIC else "left", overflow="fold", width=width)
    for r, cells in zip(rows, body, strict=True):
        style = "bold green" if r.verdict == "interactive" else ("yellow" if r.verdict == "background" else "")
        engine = _short_url(r.engine) if r.engine.startswith("http") else r.engine
        model = safe_text(cells[0])
        model.append_text(safe_text(f"\n{r.machine} · {engine}", "dim"))
        run = str(r.run_id) + ("" if r.status == "complete" else "†")
        extra = [safe_text(cells[headers.index(h)]) for h in table_headers[10:-1]]
        t.add_row(model, *map(safe_text, cells[1:9]), safe_text(cells[9], style), *extra, safe_text(run))
    return t


def api_line(rows: Sequence[BoardRow], api: Mapping[str, Any]) -> str:
    """The board's cost statement: an API's price beside the cheapest and dearest electricity."""
    from rigbench.energy.prices import Price

    p = Price(float(api["value"]), str(api.get("currency") or ""))
    text = f"1M tokens by API: {p.fmt(p.value)}"
    costs = [r for r in rows if r.electricity_per_mtok is not None]
    if costs:
        lo = min(costs, key=lambda r: r.electricity_per_mtok or 0.0)
        text += (f"; in electricity here from {Price(0, lo.currency).fmt(lo.electricity_per_mtok or 0.0)} "
                 f"(run {lo.run_id}, {lo.model})")
    else:
        text += "; no row has both a power source and an electricity price"
    return text


def board_markdown(rows: Sequence[BoardRow]) -> str:
    """A GitHub-flavoured markdown table that pastes cleanly into a forum post."""
    headers = _headers(rows)
    lines = ["| " + " | ".join(headers) + " |",
             "|" + "|".join("---:" if h in _NUMERIC else "---" for h in headers) + "|"]
    marks = _suite_marks(rows)
    for r in rows:
        lines.append("| " + " | ".join(md_cell(c) for c in _row_cells(r, rows, marks)) + " |")
    lines.append("")
    lines.append(f"_{md_cell(one_line(_footnote(rows)))} Measured with rigbench._")  # suite names are data
    return "\n".join(lines) + "\n"


_CSV_FIELDS = ("run_id", "status", "created_at", "model", "quant", "quality", "quality_ci_low", "quality_ci_high",
               "decode_tok_s", "depth", "at_working_depth", "prefill_tok_s", "ttft_ms", "disk_bytes",
               "native_context", "pct_of_ceiling", "verdict", "machine", "engine", "quality_suite",
               "best_aggregate_tok_s", "best_concurrency", "knee", "j_per_token", "energy_covers",
               "electricity_per_mtok", "currency")


def board_csv(rows: Sequence[BoardRow]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(_CSV_FIELDS)
    for r in rows:
        d = r.to_json()
        d["quality_ci_low"], d["quality_ci_high"] = (r.quality_ci if r.quality_ci else (None, None))
        w.writerow(["" if d.get(f) is None else visible(d[f]) if isinstance(d[f], str) else d[f]
                    for f in _CSV_FIELDS])
    return buf.getvalue()


def board_json(rows: Sequence[BoardRow]) -> list[dict[str, Any]]:
    return [r.to_json() for r in rows]
