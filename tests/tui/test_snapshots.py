"""The chat's layout, pinned: a conversation in progress at two terminal sizes, and the help.

The agent here is the deterministic fake (fixed session id s-0001, its own drawn catalogue), so
these pictures change only when the layout does, never when the demo model is retrained.
Update them with `pytest tests/tui/test_snapshots.py --snapshot-update` and look at the report.
"""

from __future__ import annotations

import pytest

from tests.tui.pilot import settle, type_text
from tui.app import make_app


def chat(fake_agent):
    return make_app("fake", None, None, open_agent=lambda: fake_agent, images="halfcell")


async def red_then_blue_then_pick_3(pilot):
    await settle(pilot)
    await type_text(pilot, "a red dress")
    await settle(pilot)
    await type_text(pilot, "make it blue, not striped")
    await settle(pilot)
    await pilot.press("3")
    await pilot.pause()


@pytest.mark.parametrize("size", [(80, 24), (120, 36)], ids=["80x24", "120x36"])
def test_a_conversation_in_progress(snap_compare, fake_agent, size):
    assert snap_compare(chat(fake_agent), terminal_size=size, run_before=red_then_blue_then_pick_3)


def test_the_help_screen(snap_compare, fake_agent):
    async def open_help(pilot):
        await settle(pilot)
        await pilot.press("f1")

    assert snap_compare(chat(fake_agent), terminal_size=(100, 32), run_before=open_help)
