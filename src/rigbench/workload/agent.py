"""The agent-session workload: a scripted coding loop, as data, and a small builder.

A coding agent does not chat: it plans, calls a tool and reads a long output, edits,
runs the tests, reads the error, retries, and finally summarises, about 30 turns in
which the context only grows. ``SCRIPT`` is that loop; ``build_turns`` turns it into the
user-side messages of each turn (the tool outputs are real prose from the bundled corpus
and synthetic code, diffs and test logs, all deterministic), sized so the whole session
fits the context the server grants. The model's own answers go back into the history,
as an agent's would.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from rigbench.workload.text import corpus_slice

__all__ = ["DEFAULT_TURNS", "SCRIPT", "SessionPlan", "Step", "Turn", "build_turns", "plan_session"]

DEFAULT_TURNS = 30
BASE_TOOL_TOKENS = 320  # a tool output of size 1.0, in tokens, before fitting the context
MIN_TOOL_TOKENS = 48
TURN_OVERHEAD = 48  # the instruction and the chat template around each turn
CONTEXT_SHARE = 0.85  # the share of the granted context the session may fill
TIME_CAP_TOKENS = 16384  # beyond this the session would take too long on a small machine


@dataclass(frozen=True)
class Step:
    kind: str  # plan | read | search | docs | edit | run | error | retry | summarise
    instruction: str
    tool: str | None = None  # file | grep | docs | diff | test_fail | test_pass | lint | suite
    size: float = 0.0  # the tool output, relative to the session's base tool size
    path: str = ""


SCRIPT: tuple[Step, ...] = (
    Step("plan", "Plan the change in a few numbered steps before touching any file."),
    Step("read", "Read the file and say where discounts are applied.", "file", 1.0, "src/shop/cart.py"),
    Step("search", "Which call sites must change?", "grep", 0.4, "apply_discount"),
    Step("read", "Read this module too; note what the edit must keep.", "file", 1.2, "src/shop/pricing.py"),
    Step("docs", "The ticket quotes this text; keep only what matters for the change.", "docs", 0.8,
         "docs/ticket.txt"),
    Step("edit", "Write the edit as a unified diff.", "diff", 0.3, "src/shop/pricing.py"),
    Step("run", "Tests ran. Read the output.", "test_fail", 0.9, "tests/test_pricing.py"),
    Step("error", "Here is the failing test. Explain the error.", "file", 0.6, "tests/test_pricing.py"),
    Step("retry", "The retry applied. Say what you changed and why.", "diff", 0.3, "src/shop/pricing.py"),
    Step("run", "Tests ran again. Read the output.", "test_fail", 0.8, "tests/test_cart.py"),
    Step("search", "Find every place that rounds money.", "grep", 0.4, "round("),
    Step("read", "Read the helper module.", "file", 1.0, "src/shop/money.py"),
    Step("retry", "This edit applied. Check it against the failure.", "diff", 0.3, "src/shop/money.py"),
    Step("run", "Tests ran. Read the output.", "test_pass", 0.5, "tests"),
    Step("plan", "Next, refunds must use the same rule. Plan that part."),
    Step("read", "Read the refunds module.", "file", 1.0, "src/shop/refunds.py"),
    Step("edit", "Write the refund edit as a unified diff.", "diff", 0.3, "src/shop/refunds.py"),
    Step("run", "The linter ran. Read its report.", "lint", 0.5, "src/shop"),
    Step("retry", "The lint fix applied. Confirm it.", "diff", 0.2, "src/shop/refunds.py"),
    Step("run", "Tests ran. Read the output.", "test_fail", 0.9, "tests/test_refunds.py"),
    Step("error", "Here is the frame that failed. Explain it.", "file", 0.6, "src/shop/refunds.py"),
    Step("retry", "The fix applied. Explain what it changes.", "diff", 0.3, "src/shop/refunds.py"),
    Step("run", "Tests ran. Read the output.", "test_pass", 0.6, "tests"),
    Step("docs", "Read the changelog entry style from this text.", "docs", 0.5, "CHANGELOG.md"),
    Step("edit", "Write the changelog entry as a diff.", "diff", 0.2, "CHANGELOG.md"),
    Step("run", "The whole suite ran. Read the log.", "suite", 1.0, "tests"),
    Step("search", "Look for leftover TODOs from this change.", "grep", 0.4, "TODO"),
    Step("edit", "Remove the leftover and show the diff.", "diff", 0.2, "src/shop/cart.py"),
    Step("run", "Tests ran. Read the output.", "test_pass", 0.5, "tests"),
    Step("summarise", "Summarise the whole change for the pull request description."),
)

TASK = ("You are a coding agent working in the repository of a small web shop (Python, pytest). "
        "You call tools, read their output, edit files and run the tests until they pass. "
        "Task: discounts are applied after tax, so customers pay too much; apply them before tax, "
        "the same way for orders and refunds, and round money only once, at the end.")


@dataclass(frozen=True)
class Turn:
    index: int
    kind: str
    message: str  # the user-side message of this turn: the tool output and the instruction
    est_tokens: int


@dataclass(frozen=True)
class SessionPlan:
    turns: int
    tool_tokens: int
    chars_per_token: float
    est_total_tokens: int
    notes: tuple[str, ...] = ()


def _script(turns: int) -> list[Step]:
    """The first ``turns - 1`` steps and always the summary last; past the script's length
    the middle of the loop (edit, run, error, retry) repeats."""
    turns = max(2, turns)
    body = list(SCRIPT[:-1])
    loop = list(SCRIPT[5:14])
    while len(body) < turns - 1:
        body += loop
    return [*body[: turns - 1], SCRIPT[-1]]


def _est_total(steps: list[Step], tool_tokens: int, gen_tokens: int) -> int:
    return 120 + sum(int(s.size * tool_tokens) + TURN_OVERHEAD + gen_tokens for s in steps)


def plan_session(granted_context: int | None, gen_tokens: int, *, turns: int = DEFAULT_TURNS,
                 chars_per_token: float = 3.5) -> SessionPlan:
    """Size the tool outputs so the whole session fits the granted context (and a few
    minutes); with too little context, fewer turns (the summary stays the last)."""
    budget = min(int((granted_context or 32768) * CONTEXT_SHARE), TIME_CAP_TOKENS)
    notes: list[str] = []
    n = max(2, turns)
    while True:
        steps = _script(n)
        fixed = _est_total(steps, 0, gen_tokens)
        weight = sum(s.size for s in steps)
        room = budget - fixed
        tool = min(BASE_TOOL_TOKENS, int(room / weight)) if weight else BASE_TOOL_TOKENS
        if tool >= MIN_TOOL_TOKENS or n <= 2:
            break
        n -= 1
    tool = max(tool, MIN_TOOL_TOKENS // 2)
    if n < turns:
        notes.append(f"the session was cut to {n} turns to fit {granted_context or 0:,} tokens of context")
    if tool < BASE_TOOL_TOKENS:
        notes.append(f"tool outputs were shrunk to about {tool} tokens to fit the context")
    return SessionPlan(n, tool, chars_per_token, _est_total(_script(n), tool, gen_tokens), tuple(notes))


# -- tool outputs -------------------------------------------------------------------------

_NOUNS = ("order", "cart", "item", "price", "discount", "tax", "refund", "total", "customer", "coupon",
          "invoice", "line", "amount", "currency", "rate")
_VERBS = ("apply", "compute", "validate", "round", "collect", "merge", "split", "render", "load", "check")


def _ident(rng: random.Random) -> str:
    return f"{rng.choice(_VERBS)}_{rng.choice(_NOUNS)}"


def _code(path: str, chars: int, rng: random.Random) -> str:
    lines = [f'"""{path}: {rng.choice(_NOUNS)} handling for the shop."""', "",
             "from __future__ import annotations", "", "from decimal import Decimal, ROUND_HALF_UP", ""]
    n = 0
    while sum(len(x) + 1 for x in lines) < chars:
        n += 1
        name, a, b = _ident(rng), rng.choice(_NOUNS), rng.choice(_NOUNS)
        lines += [
            "",
            f"def {name}_{n}({a}: Decimal, {b}s: list[Decimal], rate: Decimal = Decimal('0.{rng.randint(5, 25)}'))"
            " -> Decimal:",
            f'    """{name.replace("_", " ").capitalize()} for one {a}; {b}s in cents."""',
            f"    subtotal = sum({b}s, Decimal(0))",
            f"    if subtotal <= 0:  # TODO({rng.choice(_NOUNS)}): refunds pass negative amounts",
            f"        raise ValueError(f'no {b}s for {{ {a} !r}}')",
            "    taxed = subtotal * (1 + rate)",
            f"    return (taxed - {a}).quantize(Decimal('0.01'), rounding=ROUND_HALF_UP)",
        ]
    return "\n".join(lines)[:chars]


def _grep(pattern: str, chars: int, rng: random.Random) -> str:
    lines: list[str] = []
    while sum(len(x) + 1 for x in lines) < chars:
        lines.append(f"src/shop/{rng.choice(_NOUNS)}s.py:{rng.randint(12, 480)}:    "
                     f"{rng.choice(_NOUNS)} = {pattern.rstrip('(')}({rng.choice(_NOUNS)}, {rng.choice(_NOUNS)})")
    return "\n".join(lines)[:chars]


def _diff(path: str, chars: int, rng: random.Random) -> str:
    lines = [f"--- a/{path}", f"+++ b/{path}", f"@@ -{rng.randint(10, 200)},7 +{rng.randint(10, 200)},8 @@"]
    while sum(len(x) + 1 for x in lines) < chars:
        a, b = rng.choice(_NOUNS), rng.choice(_NOUNS)
        lines += [f"-    taxed = ({a} - {b}) * (1 + rate)", f"+    net = {a} - {b}",
                  "+    taxed = net * (1 + rate)", f"     return round_money(taxed)  # {rng.choice(_VERBS)}"]
    return "Applied: 1 file changed.\n" + "\n".join(lines)[:chars]


def _tests(path: str, chars: int, rng: random.Random, *, fail: bool, suite: bool = False) -> str:
    total = rng.randint(40, 160)
    lines = ["============================= test session starts ==============================",
             f"collected {total} items", ""]
    while sum(len(x) + 1 for x in lines) < chars * (0.45 if fail else 0.85):
        mod = f"tests/test_{rng.choice(_NOUNS)}s.py"
        lines.append(f"{mod} {'.' * rng.randint(8, 40)}{'F' if fail and rng.random() < 0.1 else ''}"
                     f"{' ' * 4}[{rng.randint(1, 99):>3}%]")
        if suite:
            lines.append(f"  PASSED {mod}::test_{_ident(rng)}")
    if fail:
        lines += ["", "=================================== FAILURES ==================================="]
        failed = 0
        while sum(len(x) + 1 for x in lines) < chars * 0.95:
            name, got, want = _ident(rng), _cents(rng), _cents(rng)
            lines += [f"_____________________________ test_{name} ______________________________", "",
                      f"    def test_{name}():", f"        {rng.choice(_NOUNS)} = make_{rng.choice(_NOUNS)}()",
                      f">       assert {name}({rng.choice(_NOUNS)}) == Decimal('{want}')",
                      f"E       AssertionError: assert Decimal('{got}') == Decimal('{want}')",
                      f"{path}:{rng.randint(10, 300)}: AssertionError", ""]
            failed += 1
        lines.append(f"========================= {failed} failed, {total - failed} passed in {rng.uniform(1, 9):.2f}s "
                     "=========================")
    else:
        lines.append(f"============================= {total} passed in {rng.uniform(1, 9):.2f}s "
                     "=============================")
    text = "\n".join(lines)
    if len(text) > chars:  # keep the end (the summary line), cut at a line start
        text = text[-chars:]
        text = text[text.find("\n") + 1:]
    return text


def _cents(rng: random.Random) -> str:
    return f"{rng.randint(1, 999)}.{rng.randint(10, 99)}"


def _lint(path: str, chars: int, rng: random.Random) -> str:
    codes = ("E501 line too long", "F401 imported but unused", "B006 mutable default argument",
             "SIM108 use a ternary operator", "UP007 use X | Y for type annotations")
    lines: list[str] = []
    while sum(len(x) + 1 for x in lines) < chars:
        lines.append(f"{path}/{rng.choice(_NOUNS)}s.py:{rng.randint(1, 400)}:{rng.randint(1, 90)}: "
                     f"{rng.choice(codes)}")
    return "\n".join(lines)[:chars] + f"\nFound {len(lines)} errors."


def tool_output(step: Step, chars: int, seed: int) -> str:
    rng = random.Random(seed)
    if step.tool == "file":
        return _code(step.path, chars, rng)
    if step.tool == "grep":
        return _grep(step.path, chars, rng)
    if step.tool == "docs":
        return corpus_slice(chars, offset=seed * 7919)
    if step.tool == "diff":
        return _diff(step.path, chars, rng)
    if step.tool in ("test_fail", "test_pass", "suite"):
        return _tests(step.path, chars, rng, fail=step.tool == "test_fail", suite=step.tool == "suite")
    if step.tool == "lint":
        return _lint(step.path, chars, rng)
    return ""


def build_turns(plan: SessionPlan) -> list[Turn]:
    """The user-side message of every turn; the first one carries the task."""
    out: list[Turn] = []
    for i, step in enumerate(_script(plan.turns)):
        chars = int(step.size * plan.tool_tokens * plan.chars_per_token)
        body = tool_output(step, chars, seed=i) if step.tool else ""
        what = {"file": f"read_file({step.path})", "grep": f"grep -rn {step.path!r} src/",
                "docs": f"read_file({step.path})", "diff": f"apply_patch({step.path})",
                "test_fail": f"pytest {step.path}", "test_pass": f"pytest {step.path}", "suite": "pytest -q",
                "lint": f"ruff check {step.path}"}.get(step.tool or "", "")
        parts = [TASK] if i == 0 else []
        if body:
            parts.append(f"[tool: {what}]\n{body}\n[end of tool output]")
        parts.append(f"Turn {i + 1} ({step.kind}). {step.instruction}")
        message = "\n\n".join(parts)
        out.append(Turn(i, step.kind, message, int(len(message) / plan.chars_per_token) + 8))
    return out
