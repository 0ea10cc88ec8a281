"""Real text of exact token lengths, for prompts and contexts.

The bundled text is Jane Austen's *Pride and Prejudice* (public domain; Project Gutenberg
boilerplate removed). With a server that has ``/tokenize`` the text is cut at exact token
boundaries (and checked by tokenizing the cut again); without it, the characters per
token are calibrated from ``usage.prompt_tokens`` and every request's real prompt length
is recorded anyway.
"""

from __future__ import annotations

import gzip
from functools import lru_cache
from importlib.resources import files
from typing import Any, Protocol

__all__ = ["ContextText", "corpus", "corpus_slice", "probe_text"]

_SEPARATOR = "\n\n* * *\n\n"


@lru_cache(maxsize=1)
def corpus() -> str:
    raw = files("rigbench.workload").joinpath("data/pride_and_prejudice.txt.gz").read_bytes()
    return gzip.decompress(raw).decode("utf-8")


def corpus_slice(chars: int, offset: int = 0) -> str:
    """``chars`` characters of the corpus from ``offset``, wrapping around (with a visible
    separator) when more text is asked for than the book holds."""
    text = corpus()
    out: list[str] = []
    need = chars
    pos = offset % len(text)
    while need > 0:
        piece = text[pos : pos + need]
        out.append(piece)
        need -= len(piece)
        if need > 0:
            out.append(_SEPARATOR)
            need -= len(_SEPARATOR)
            pos = 0
    return "".join(out)[:chars]


def probe_text(rep: int) -> str:
    """The short instruction after the context; distinct per repeat, so each repeat sends a
    prompt the server has not cached in full."""
    return f"\n\n[Reader's note {rep + 1}] Continue the story from where the text above stops."


class _Tokenizing(Protocol):
    can_tokenize: bool

    def tokenize(self, text: str, *, with_pieces: bool = False) -> list[Any] | None: ...

    def count_tokens(self, text: str) -> int | None: ...


class ContextText:
    """Cuts the corpus to exact token counts for one server's tokenizer."""

    def __init__(self, server: _Tokenizing, *, chars_per_token: float | None = None) -> None:
        self.server = server
        self._offsets: list[int] = []  # byte offset after each token
        self._bytes = b""
        self.chars_per_token = chars_per_token
        self.method = "tokenize" if server.can_tokenize else "calibrated"
        self._counted = False  # the server's /tokenize gives counts but no pieces
        self.calibrated = False  # calibrate() found characters per token (else 4.0 is assumed)

    def _load(self, n_tokens: int) -> None:
        chars = int(n_tokens * 6) + 2000
        while True:
            text = corpus_slice(chars)
            pieces = self.server.tokenize(text, with_pieces=True)
            if pieces is None:
                self.method = "calibrated"
                return
            data = bytearray()
            offsets: list[int] = []
            for p in pieces:
                piece = p.get("piece") if isinstance(p, dict) else None
                if isinstance(piece, str):
                    data += piece.encode("utf-8")
                elif isinstance(piece, list):
                    data += bytes(int(b) & 0xFF for b in piece)
                else:  # ids without pieces (vLLM): cut by counting instead
                    self._counted = True
                    return
                offsets.append(len(data))
            if len(offsets) > n_tokens + 8 or chars > 50_000_000:
                self._bytes = bytes(data)
                self._offsets = offsets
                return
            chars *= 2

    def text(self, n_tokens: int) -> str:
        """Text that tokenizes to ``n_tokens`` tokens (exactly, where the server can tell)."""
        if n_tokens <= 0:
            return ""
        if self.method == "tokenize" and not self._counted and len(self._offsets) <= n_tokens + 8:
            self._load(max(n_tokens, 1024))
        if self.method == "tokenize" and self._counted:
            return self._by_count(n_tokens)
        if self.method == "tokenize":
            return self._exact(n_tokens)
        ratio = self.chars_per_token or 4.0
        text = corpus_slice(int(n_tokens * ratio) + 64)[: int(n_tokens * ratio)]
        cut = text.rfind(" ")
        return text[:cut] if cut > len(text) * 0.9 else text

    def _cut(self, k: int) -> str:
        k = max(1, min(k, len(self._offsets)))
        return self._bytes[: self._offsets[k - 1]].decode("utf-8", errors="ignore").lstrip(" ")

    def _exact(self, n: int) -> str:
        k = n
        best = self._cut(k)
        for _ in range(6):
            count = self.server.count_tokens(best)
            if count is None or count == n:
                return best
            k += n - count
            best = self._cut(k)
        return best

    def _by_count(self, n: int) -> str:
        """A prefix of the corpus that the server counts as ``n`` tokens, found by asking it
        to count candidate cuts (a few requests); the closest one not over ``n`` where no
        cut counts exactly."""
        if not self.chars_per_token:
            sample = corpus_slice(8000)
            count = self.server.count_tokens(sample)
            self.chars_per_token = len(sample) / count if count else 4.0
        ratio = self.chars_per_token
        chars = max(1, int(n * ratio))
        best, best_n = "", -1
        for _ in range(16):
            text = corpus_slice(chars)
            count = self.server.count_tokens(text)
            if count is None:
                break
            if count == n:
                return text
            if best_n < count < n:
                best, best_n = text, count
            step = round((n - count) * ratio)
            chars = max(1, chars + (step if step else (1 if count < n else -1)))
        return best or corpus_slice(max(1, int(n * ratio)))

    def calibrate(self, measure_prompt_tokens: Any) -> float:
        """Find characters per token from two requests' ``usage.prompt_tokens``.

        ``measure_prompt_tokens(text) -> int | None`` sends ``text`` as a user message."""
        sample = corpus_slice(8000)
        p_small = measure_prompt_tokens("Hello.")
        p_big = measure_prompt_tokens(sample)
        self.calibrated = not (p_small is None or p_big is None or p_big <= p_small)
        if not self.calibrated:
            self.chars_per_token = 4.0
        else:
            self.chars_per_token = len(sample) / (p_big - p_small)
        return self.chars_per_token
