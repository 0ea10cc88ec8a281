"""Untrusted text, shown as text: the one place that turns what a server, a model or a file
said into characters a terminal (or a markdown table) shows and never obeys.

Model ids, answers, reasoning, server error texts, boot-log lines, file paths, suite text,
labels, hostnames and URLs are not rigbench's own words. Every renderer passes them
through here:

- ``visible(s)`` is the string with every control character made visible as an escape
  (ESC as ``\\x1b``, a carriage return as ``\\x0d``, U+202E as ``\\u202e``): the C0
  codes except tab and newline, DEL, the C1 codes, the Unicode bidirectional embeddings,
  overrides and isolates (they reorder what a terminal shows) and lone surrogates (they
  cannot be written as UTF-8). Anything else is kept as written, brackets, ``<script>``
  and backslashes included.
- ``safe_text(s)`` is ``visible(s)`` as a rich ``Text``, which rich never reads as markup
  (``[/bold]`` is shown, not obeyed). Renderers build cells, titles and lines from it.
- ``one_line(s)`` is ``visible`` with whitespace runs folded to one space, for the CLI's
  one-line error printer.
- ``md_cell(s)`` is a cell of a markdown table: visible, with the characters markdown
  would obey escaped and a newline written ``<br>``, so a ``|`` or a newline cannot break
  the table.
- ``plot_label(s)`` is a matplotlib label: visible, ``$`` escaped (two of them would start
  mathtext, which can fail to parse and end the report) and a leading ``_`` kept (matplotlib
  hides a legend entry whose label starts with one).
- ``safe_console(...)`` is the rich console every CLI command prints with: markup and
  emoji codes off for plain strings, and a render hook that makes the text of every
  rendered segment visible. It is the backstop for a renderer that forgot; the renderers
  above do not depend on it (they are safe on any console).
"""

from __future__ import annotations

import re
from typing import Any

from rich.console import Console, ConsoleOptions, ConsoleRenderable, RenderHook, RenderResult
from rich.segment import Segment
from rich.style import Style
from rich.text import Text

__all__ = ["md_cell", "one_line", "plot_label", "safe_console", "safe_text", "visible"]


def _escape(cp: int) -> str:
    return f"\\x{cp:02x}" if cp <= 0xFF else f"\\u{cp:04x}"


_CONTROL = [cp for cp in (*range(0x00, 0x20), *range(0x7F, 0xA0)) if cp not in (0x09, 0x0A)]
_BIDI = [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]  # embeddings, overrides, isolates
_TABLE: dict[int, str] = {cp: _escape(cp) for cp in (*_CONTROL, *_BIDI)}
_SURROGATE = re.compile("[\ud800-\udfff]")
_MD_SPECIAL = re.compile(r"([\\|`\[\]<>&~])")  # emphasis (* and _) is left as written: it can only restyle


def visible(value: object) -> str:
    """``value`` as a string whose control characters are shown, not sent (see the module)."""
    s = value if isinstance(value, str) else str(value)
    s = s.translate(_TABLE)
    if _SURROGATE.search(s):
        s = _SURROGATE.sub(lambda m: _escape(ord(m.group())), s)
    return s


def safe_text(value: object, style: str | Style = "") -> Text:
    """``value`` as rich ``Text``: never markup, control characters visible."""
    return Text(visible(value), style=style)


def one_line(value: object) -> str:
    """``visible(value)`` on one line: runs of whitespace (newlines too) become one space."""
    return " ".join(visible(value).split())


def md_cell(value: object) -> str:
    """``value`` as a cell of a GitHub-flavoured markdown table, shown as written."""
    return _MD_SPECIAL.sub(r"\\\1", visible(value)).replace("\t", " ").replace("\n", "<br>")


def plot_label(value: object) -> str:
    """``value`` as matplotlib text shown as written (never mathtext, never a hidden legend entry)."""
    s = visible(value).replace("$", r"\$")
    return "\u200b" + s if s.startswith("_") else s


class _Visible:
    """A renderable whose every text segment is made visible (rich's own control segments,
    the cursor moves of a live display, pass as they are)."""

    def __init__(self, inner: ConsoleRenderable) -> None:
        self.inner = inner

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        for seg in console.render(self.inner, options):
            if seg.control:
                yield seg
            else:
                yield Segment(visible(seg.text), seg.style, seg.control)


class _VisibleHook(RenderHook):
    def process_renderables(self, renderables: list[ConsoleRenderable]) -> list[ConsoleRenderable]:
        return [_Visible(r) for r in renderables]


def safe_console(**kwargs: Any) -> Console:
    """A rich console for untrusted text: plain strings are never markup or emoji codes, and
    whatever is printed reaches the terminal with its control characters made visible."""
    console = Console(markup=False, emoji=False, **kwargs)
    console.push_render_hook(_VisibleHook())
    return console

