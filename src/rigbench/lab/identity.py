"""The identity check: with greedy sampling, speculative decoding must not change the output.

A speculative technique only proposes tokens; the target model verifies them, so at
temperature 0 (top_k 1) its output must be the baseline's, token for token. Each pair's
generated texts are compared. On a CPU build they can still part at a *near-tie*: the
target verifies drafted tokens in batches, and a batch's floating-point sums round
differently from one token at a time, so where the top two candidates are within a
hair of each other either may win. When a pair differs, the baseline's server is asked
for its top candidates at the first differing token (the prompt plus the common
prefix, one token, with probabilities): if both texts' next tokens are among them within
``TIE_NATS`` of each other, the pair parted at a near-tie (``near-tie``); otherwise the
technique changed the output (``differs``), which a lossless technique must never do.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from rigbench.quality.prompts import Ask

__all__ = ["TIE_NATS", "diagnose", "first_divergence", "tie_verdict", "token_start"]

TIE_NATS = 0.25  # two candidates this close in log-probability are a floating-point coin toss
_TOP = 8


def first_divergence(a: str, b: str) -> int | None:
    """The first character index where ``a`` and ``b`` differ (None when equal)."""
    if a == b:
        return None
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return i
    return min(len(a), len(b))


def _piece_text(piece: Any) -> str:
    if isinstance(piece, str):
        return piece
    if isinstance(piece, list):
        return bytes(int(x) & 0xFF for x in piece).decode("utf-8", errors="replace")
    return ""


def token_start(pieces: Sequence[Mapping[str, Any]], char_index: int) -> tuple[int, int]:
    """(character offset, token index) of the token holding ``char_index``, from the
    ``/tokenize`` pieces of the text."""
    pos = 0
    for i, p in enumerate(pieces):
        text = _piece_text(p.get("piece") if isinstance(p, Mapping) else None)
        if pos + len(text) > char_index:
            return pos, i
        pos += len(text)
    return pos, len(pieces)


def tie_verdict(top: Sequence[tuple[str, float]], base_next: str, arm_next: str) -> dict[str, Any]:
    """Did the two continuations part at a near-tie? ``top``: (token text, log-probability)
    of the baseline's candidates at the first differing token."""
    def find(text: str) -> tuple[str, float] | None:
        hits = [(t, lp) for t, lp in top if t and text.startswith(t)]
        return max(hits, key=lambda h: len(h[0])) if hits else None

    b, a = find(base_next), find(arm_next)
    if b is None or a is None or b[0] == a[0]:
        missing = "the technique's token" if a is None else "the baseline's token" if b is None else "neither"
        return {"identity": "differs", "margin_nats": None,
                "detail": f"{missing} is not among the baseline's top {len(top)} candidates"
                if b is None or a is None else "the same next token yet different text"}
    margin = abs(b[1] - a[1])
    tie = margin <= TIE_NATS
    return {"identity": "near-tie" if tie else "differs", "margin_nats": round(margin, 4),
            "detail": f"{b[0]!r} vs {a[0]!r}, {margin:.3f} nats apart"
                      + (" (a floating-point near-tie)" if tie else f" (over {TIE_NATS})")}


def _rendered(http: httpx.Client, root: str, ask: Ask) -> str | None:
    if ask.text is not None:
        return ask.text
    try:
        r = http.post(root + "/apply-template", json={"messages": ask.messages}, timeout=60.0)
        prompt = r.json().get("prompt") if r.status_code == 200 else None
    except (httpx.HTTPError, ValueError):
        return None
    return prompt if isinstance(prompt, str) else None


def diagnose(http: httpx.Client, root: str, ask: Ask, base_text: str, arm_text: str) -> dict[str, Any]:
    """Where and why a pair's outputs differ, asking the baseline's server (llama.cpp's
    ``/apply-template``, ``/tokenize`` and ``/completion`` with ``n_probs``)."""
    at = first_divergence(base_text, arm_text)
    if at is None:
        return {"identity": "identical"}
    out: dict[str, Any] = {"diverges_at_char": at}
    prompt = _rendered(http, root, ask)
    try:
        tok = http.post(root + "/tokenize", json={"content": base_text, "with_pieces": True}, timeout=60.0)
        pieces = tok.json().get("tokens") if tok.status_code == 200 else None
        if prompt is None or not isinstance(pieces, list):
            return {**out, "identity": "differs", "detail": "the server could not say why (no template or tokens)"}
        start, index = token_start(pieces, at)
        out["diverges_at_token"] = index
        r = http.post(root + "/completion", json={
            "prompt": prompt + base_text[:start], "n_predict": 1, "n_probs": _TOP, "temperature": 0.0,
            "top_k": 1, "cache_prompt": False}, timeout=120.0)
        probs = r.json().get("completion_probabilities") if r.status_code == 200 else None
    except (httpx.HTTPError, ValueError):
        return {**out, "identity": "differs", "detail": "the server could not say why (a request failed)"}
    if not isinstance(probs, list) or not probs:
        return {**out, "identity": "differs", "detail": "the server gave no token probabilities"}
    top = [(str(c.get("token", "")), float(c.get("logprob", -99.0))) for c in probs[0].get("top_logprobs") or []]
    return {**out, **tie_verdict(top, base_text[start:], arm_text[start:])}
