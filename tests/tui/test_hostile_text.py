"""A file name or a person's words in the chat app are shown as text: no terminal escape and no
markup of theirs ("[bold]", "[@click=quit]") takes effect."""

from __future__ import annotations

from tui.widgets.conversation import ExchangeView
from tui.widgets.status import StatusLine

HOSTILE = "red [bold]dress[/bold] \x1b]0;pwned\x07\x1b[2J"


def test_a_reply_shows_the_persons_words_and_problems_escaped_and_unstyled():
    view = ExchangeView(HOSTILE)
    view.summary, view.notice = HOSTILE, f"No {HOSTILE}; closest first."
    shown = view.reply_text().plain
    assert "\x1b" not in shown and "\x07" not in shown
    assert "[bold]dress[/bold]" in shown and "\\x1b]0;pwned\\x07" in shown
    view.problem = f"No library named '{HOSTILE}'"
    assert "\x1b" not in view.reply_text().plain


def test_the_status_line_escapes_the_library_and_model_names():
    line = StatusLine()
    line.library, line.model = "x\x1b[2J", "local-dir @ /m/\x9b31m"
    shown = line.render().plain
    assert "\x1b" not in shown and "\x9b" not in shown and "x\\x1b[2J" in shown
