"""User text printed as plain text: never read as Rich markup, control codes made visible.

Run names and ids, file names, CSV cells, dataset names and the error sentences that quote
them come from the user. Printed through Rich's markup, ``[/x]`` raises ``MarkupError``
and ``[bold]`` or ``[module_hash, epochs, ...]`` silently vanish; printed raw, ``\\x1b[31m``
recolours the user's terminal. ``plain`` gives a ``Text`` (no markup) with every control
character but newline and tab written as its escape; ``esc`` gives the same text as
markup, for a message that mixes our styles with user text.
"""

from __future__ import annotations

import re
import unicodedata

from rich.text import Text

_KEEP = "\n\t"
_BIDI = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# What Rich reads as a tag (rich.markup.RE_TAGS), with the backslashes before it; else
# any other opening bracket with them (Rich 15 drops one backslash before such a bracket).
_TAG = re.compile(r"(\\*)(\[[a-z#/@][^\[]*?])|(\\*)\[")


def _hidden(c: str) -> bool:
    return (unicodedata.category(c) == "Cc" and c not in _KEEP) or c in _BIDI


def visible(value: object) -> str:
    """``str(value)`` with each control character (C0, DEL, C1, and the bidirectional
    overrides that reorder what a terminal shows) as its escape."""
    text = str(value)
    if text.isprintable():
        return text
    return "".join(c.encode("unicode_escape").decode("ascii") if _hidden(c) else c for c in text)


def plain(value: object, style: str = "") -> Text:
    """User text as a ``Text``: shown exactly as written, whatever brackets it holds (a
    ``Text`` already is one: it is returned as it is)."""
    if isinstance(value, Text):
        return value
    return Text(visible(value), style=style)


def _escaped(m: re.Match) -> str:
    if m.group(2) is not None:  # a tag: Rich halves the run and reads one more as escape
        return m.group(1) * 2 + "\\" + m.group(2)
    return m.group(3) + "\\["  # another bracket: Rich drops one backslash before it


def esc(value: object) -> str:
    """User text to put inside a markup string (``f"[bold]{esc(name)}[/]"``).

    Like ``rich.markup.escape``, and also right for backslashes: Rich halves a backslash
    run before a tag and drops one before any other bracket, so each is given what Rich
    takes away, and a trailing run is doubled and given an empty tag of its own, whatever
    the markup after it."""
    text = _TAG.sub(_escaped, visible(value))
    trail = len(text) - len(text.rstrip("\\"))
    return text + "\\" * trail + "[b][/b]" if trail else text
