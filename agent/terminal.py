"""Text made safe to show on a terminal: `printable(text)` for every name, path and message.

File names and a person's own words reach the screen; a name such as "a\\x1b]0;pwned\\x07.png"
would retitle the window, "\\x1b[2J" clear it. So every control character is shown as its escape
(`\\x1b`) instead of being sent: C0 (below space), DEL and C1 (\\x80-\\x9f, which some terminals
obey like ESC). Also escaped:
- lone surrogates, which is how Python spells a file name's bytes that are not UTF-8 (PEP 383):
  shown as the byte they stand for (`\\xff`), where printing them would raise;
- the bidirectional overrides and isolates, which make a name read differently from what it is
  ("Trojan Source").
A newline is kept only where the caller says the text is several lines of our own making.
Escaping, not dropping: the person still sees that the name holds something odd, and which.
"""

from __future__ import annotations

import re

_BIDI = "\u202a-\u202e\u2066-\u2069"
_UNSAFE = re.compile(f"[\x00-\x1f\x7f-\x9f\ud800-\udfff{_BIDI}]")
_UNSAFE_KEEPING_LINES = re.compile(f"[\x00-\x09\x0b-\x1f\x7f-\x9f\ud800-\udfff{_BIDI}]")


def _escape(match: re.Match) -> str:
    code = ord(match.group())
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8, as surrogateescape keeps it
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def printable(text: object, *, lines: bool = False) -> str:
    """str(text) with control characters escaped ("a\\x1b[2J.png"); `lines` keeps newlines."""
    return (_UNSAFE_KEEPING_LINES if lines else _UNSAFE).sub(_escape, str(text))
