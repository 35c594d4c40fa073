"""Helpers for driving the chat app with Pilot: wait until the agent is idle, read the screen."""

from __future__ import annotations

import time


async def settle(pilot, timeout: float = 30.0) -> None:
    """Wait until every queued agent job (load, turns) has run and the screen has caught up."""
    app = pilot.app
    deadline = time.monotonic() + timeout
    while app.busy:
        if time.monotonic() > deadline:
            raise AssertionError(f"the app stayed busy for {timeout} s: {app.jobs.current}")
        await pilot.pause(0.02)
    # The last job's widgets update, then lay out, then paint: give each step its turn.
    await pilot.pause(0.05)
    await pilot.pause()


def conversation_text(app) -> str:
    """The conversation as plain text, lines unwrapped (the panel is narrow)."""
    from tui.widgets.conversation import Conversation

    statics = app.query_one(Conversation).query("Static")
    return "\n".join(getattr(s.content, "plain", str(s.content)) for s in statics)


def screen_text(app) -> str:
    """The characters on the screen, line by line: what a user reads (colours aside)."""
    # The compositor is private, but it is the one place that holds the final composed screen.
    return "\n".join(strip.text.rstrip() for strip in app.screen._compositor.render_strips())


async def type_text(pilot, text: str) -> None:
    """Type text into the focused input and press Enter."""
    await pilot.press(*[{" ": "space"}.get(c, c) for c in text], "enter")
