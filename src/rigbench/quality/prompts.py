"""What is sent for each prompt: chat messages, or a completion prompt for a base model;
the long-context document with its planted needles; the context size it is cut to."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from rigbench.quality.suite import LongContextPrompt, RepairPrompt
from rigbench.workload.text import corpus_slice

__all__ = [
    "CHATML_FALLBACK",
    "LONG_CONTEXT_TEMPLATE",
    "Ask",
    "Document",
    "Mode",
    "ModeChoice",
    "build_ask",
    "build_document",
    "choose_mode",
    "plan_context",
    "prompt_content",
]

Mode = Literal["chat", "completion"]

# llama.cpp's template for a model whose GGUF carries none (common/chat.cpp, "chatml").
CHATML_FALLBACK = ("{%- for message in messages -%}\n  {{- '<|im_start|>' + message.role + '\n' + message.content + "
                   "'<|im_end|>\n' -}}\n{%- endfor -%}\n{%- if add_generation_prompt -%}\n  {{- '<|im_start|>assistant"
                   "\n' -}}\n{%- endif -%}")
LONG_CONTEXT_TEMPLATE = (
    "Below is a long passage from a novel. A few sentences that do not belong to the novel have been added "
    "to it. Read the passage, then answer the question after it.\n\n<passage>\n{document}\n</passage>\n\n"
    "Question: {question}\nAnswer in a few words."
)
_COMPLETION = "### Task:\n{content}\n\n### Response:\n{primer}"
_STOPS = ["\n### ", "\n\n\n\n"]
_CODE_PRIMER = "```python\n"
_CORPUS_OFFSET = 20_000  # past the book's famous first page


@dataclass(frozen=True)
class ModeChoice:
    mode: Mode
    reason: str | None = None  # why completion prompts, for the card


def _squash(s: str) -> str:
    return "".join(s.split())


def _log_lacks_template(log_path: str | None) -> bool:
    """llama.cpp's boot log lists the model's metadata; no ``tokenizer.chat_template``
    among it means the GGUF has no template of its own."""
    if not log_path:
        return False
    try:
        text = Path(log_path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    return "llama_model_loader: - kv" in text and "tokenizer.chat_template" not in text


def choose_mode(facts: Any, props_template: str | None, override: str | None = None) -> ModeChoice:
    """Chat completions, unless the model has no chat template of its own (a base model):
    then completion prompts, since a template made up by the server (llama.cpp falls back
    to chatml) is text the model never saw in training."""
    if override in ("chat", "completion"):
        return ModeChoice(override, f"{override} prompts chosen by the quality_mode option")  # type: ignore[arg-type]
    why = None
    if getattr(facts, "chat_template", None) is False:
        why = "the server reports no chat template"
    elif _log_lacks_template(getattr(facts, "log_path", None)):
        why = "the model file has no chat template (a base model; the server would fall back to chatml)"
    elif props_template is not None and _squash(props_template) == _squash(CHATML_FALLBACK):
        why = "the server uses llama.cpp's chatml fallback template (the model has none: a base model)"
    if why:
        return ModeChoice("completion", f"quality prompts sent as plain completions: {why}")
    return ModeChoice("chat")


@dataclass(frozen=True)
class Ask:
    """One request to send: chat ``messages`` or a completion ``text``."""

    max_tokens: int
    messages: list[dict[str, str]] | None = None
    text: str | None = None
    primer: str = ""  # completion mode: the start of the answer, sent in the prompt
    stop: list[str] = field(default_factory=list)


def prompt_content(p: Any, document: str | None = None) -> str:
    """The task as the model reads it (the long-context document in its place)."""
    if isinstance(p, LongContextPrompt):
        return LONG_CONTEXT_TEMPLATE.format(document=document or "", question=p.prompt.strip())
    if isinstance(p, RepairPrompt):
        return f"{p.prompt.rstrip()}\n\n```python\n{p.buggy.rstrip()}\n```"
    return str(p.prompt).rstrip()


def build_ask(p: Any, mode: Mode, *, document: str | None = None, extra_tokens: int = 0) -> Ask:
    content = prompt_content(p, document)
    max_tokens = int(p.max_tokens) + extra_tokens
    if mode == "chat":
        return Ask(max_tokens=max_tokens, messages=[{"role": "user", "content": content}])
    primer = p.primer if p.primer is not None else (_CODE_PRIMER if p.category in ("code", "repair") else "")
    stop = list(_STOPS) + (["\n```"] if primer.rstrip().startswith("```") else [])
    return Ask(max_tokens=max_tokens, text=_COMPLETION.format(content=content, primer=primer), primer=primer,
               stop=stop)


# -- long context ------------------------------------------------------------------------
@dataclass(frozen=True)
class Document:
    text: str
    depths: dict[str, float]  # prompt id -> where its needle landed (share of the text)


def _break_near(body: str, pos: int) -> int:
    """A paragraph break near ``pos`` (else a sentence end, else ``pos``)."""
    window = max(80, len(body) // 50)  # stay within 2% of the planned depth
    lo, hi = max(0, pos - window), min(len(body), pos + window)
    best = None
    for sep in ("\n\n", ". "):
        i = pos
        cands = [body.rfind(sep, lo, i), body.find(sep, i, hi)]
        cands = [c + len(sep) for c in cands if c >= 0]
        if cands:
            best = min(cands, key=lambda c: abs(c - pos))
            break
    return best if best is not None else pos


def build_document(needles: Sequence[LongContextPrompt], chars: int, offset: int = _CORPUS_OFFSET) -> Document:
    """``chars`` characters of the bundled novel with every needle planted as its own
    paragraph at its depth."""
    body = corpus_slice(max(chars, 200), offset)
    cuts = sorted((_break_near(body, int(p.depth * len(body))), i) for i, p in enumerate(needles))
    pieces: list[str] = []
    starts: dict[int, int] = {}
    last = 0
    length = 0
    for cut, i in cuts:
        pieces.append(body[last:cut])
        length += cut - last
        block = f"\n\n{needles[i].needle}\n\n"
        starts[i] = length + 2
        pieces.append(block)
        length += len(block)
        last = cut
    pieces.append(body[last:])
    text = "".join(pieces)
    return Document(text, {needles[i].id: round(starts[i] / max(1, len(text)), 3) for i in starts})


def plan_context(*, granted: int | None, working_depth: int, prefill_tok_s: float | None,
                 override: int | None, reserve: int, seconds: float = 8.0,
                 floor: int = 2048) -> tuple[int, str]:
    """How many tokens the long-context document gets, and why.

    The user's working depth, within what the server grants one slot, and no longer than
    the server prefills in about ``seconds`` at its measured speed (never below ``floor``):
    a CPU-speed server reads 2K, a GPU server the full working depth."""
    room = max(256, granted - reserve) if granted else None
    limits: list[tuple[int, str]] = []
    if override:
        limits.append((override, "the quality_context option"))
    else:
        limits.append((working_depth, "the working depth"))
        by_time = max(floor, int((prefill_tok_s or 0) * seconds))
        if prefill_tok_s:
            limits.append((by_time, f"what this server prefills in about {seconds:.0f} s "
                                    f"({prefill_tok_s:,.0f} tok/s)"))
        else:
            limits.append((by_time, "the default for a server of unknown prefill speed"))
    if room is not None:
        limits.append((room, "all the server grants one slot, less room for the question and answer"))
    n, why = min(limits, key=lambda x: x[0])
    n = max(256, n - n % 256)
    text = f"{n:,} tokens: {why}"
    if not override and why != "the working depth":
        text += f" (the working depth is {working_depth:,})"
    return n, text
