"""A person using `rummage chat` on the real agent and a small demo library, driven by Pilot."""

from __future__ import annotations

import threading

import pytest

from tests.conftest import DEMO_TEST_ITEMS
from tests.tui.fakes import FakeAgent, gated
from tests.tui.pilot import conversation_text, screen_text, settle, type_text
from tui.app import make_app
from tui.screens.help import HelpScreen
from tui.screens.preview import PreviewScreen
from tui.screens.sessions import SessionsScreen
from tui.widgets.conversation import ExchangeView
from tui.widgets.memory_panel import MemoryPanel
from tui.widgets.results import ResultsGrid, ResultTile, tile_geometry
from tui.widgets.status import StatusLine

SIZE = (120, 36)


def chat(open_agent, session_id=None, home=None):
    return make_app("demo", session_id, home, open_agent=open_agent, images="halfcell")


def shown(app) -> list[int]:
    return [tile.result.id for tile in app.query(ResultTile)]


def memory_labels(app) -> list[str]:
    return [item.label for item in app.query_one(MemoryPanel).items]


def colors(app, agent_ids) -> list[str]:
    return [app.agent.image(i).meta["color"] for i in agent_ids]


@pytest.mark.asyncio
async def test_a_query_shows_ten_numbered_thumbnails(open_demo):
    app = chat(open_demo)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await type_text(pilot, "a red dress")
        await settle(pilot)
        text = screen_text(app)
        assert [tile.result.rank for tile in app.query(ResultTile)] == list(range(1, 11))
        for rank in range(1, 11):
            assert f"#{rank}" in text
        assert "› a red dress" in text and "dress · red" in text
        assert memory_labels(app) == ["dress", "red"]
        assert f"demo · {DEMO_TEST_ITEMS:,} images · demo · session {app.session.id}" in text
        # Every thumbnail was decoded in the worker and drawn from the cache.
        assert all(app.cache.peek(i) is not None for i in shown(app))


@pytest.mark.asyncio
async def test_make_it_blue_replaces_red(open_demo):
    app = chat(open_demo)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await type_text(pilot, "a red dress")
        await settle(pilot)
        red_page = shown(app)
        await type_text(pilot, "make it blue")
        await settle(pilot)
        assert memory_labels(app) == ["dress", "blue"]
        assert shown(app) != red_page
        assert colors(app, shown(app)).count("blue") > colors(app, red_page).count("blue")
        assert "Results · dress · blue" in screen_text(app)


@pytest.mark.asyncio
async def test_pick_a_result_with_a_digit_and_dislike_it(open_demo):
    app = chat(open_demo)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await type_text(pilot, "a shirt")
        await settle(pilot)
        third = shown(app)[2]
        await pilot.press("3")  # the input is empty: the digit picks #3 and the grid takes focus
        grid = app.query_one(ResultsGrid)
        assert app.focused is grid and grid.selected_result.rank == 3
        assert app.query(ResultTile)[2].has_class("-selected")
        await pilot.press("d")
        await settle(pilot)
        assert third not in shown(app)
        assert "› not #3" in screen_text(app) and "1 disliked" in screen_text(app)
        await type_text(pilot, "")  # nothing typed: nothing sent
        await pilot.press("i", *"a shirt", "enter")  # back to the input, same words again
        await settle(pilot)
        assert third not in shown(app)


@pytest.mark.asyncio
async def test_arrows_move_the_selection_and_more_like_this_sends_a_turn(open_demo):
    app = chat(open_demo)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await type_text(pilot, "trousers")
        await settle(pilot)
        await pilot.press("right")  # from the empty input: selects #1 ...
        await pilot.press("right", "down")  # ... then one right and one row down
        grid = app.query_one(ResultsGrid)
        columns = grid._geometry[0]
        assert grid.selected_result.rank == 2 + columns
        await pilot.press("m")
        await settle(pilot)
        assert app.query(ExchangeView).last().said == f"more like {2 + columns}"


@pytest.mark.asyncio
async def test_clicking_a_thumbnail_selects_it_and_a_second_click_previews_it(open_demo):
    app = chat(open_demo)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await type_text(pilot, "a yellow skirt")
        await settle(pilot)
        fourth = app.query(ResultTile)[3]
        await pilot.click(fourth, offset=(3, 3))
        assert app.query_one(ResultsGrid).selected_result.rank == 4
        await pilot.click(fourth, offset=(3, 3))
        await settle(pilot)
        assert isinstance(app.screen, PreviewScreen)
        text = screen_text(app)
        info = app.agent.image(fourth.result.id)
        assert "#4" in text and info.path[-20:] in text.replace("\n", "")
        assert f"category: {info.meta['category']}" in text
        await pilot.press("escape")
        assert not isinstance(app.screen, PreviewScreen)


@pytest.mark.asyncio
async def test_preview_then_like_from_it(open_demo):
    app = chat(open_demo)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await type_text(pilot, "a green sweater")
        await settle(pilot)
        await pilot.press("2", "enter")
        await settle(pilot)
        assert isinstance(app.screen, PreviewScreen)
        await pilot.press("l")
        await settle(pilot)
        assert not isinstance(app.screen, PreviewScreen)
        assert app.query(ExchangeView).last().said == "like #2"
        assert "1 liked" in app.query(ExchangeView).last().summary


@pytest.mark.asyncio
async def test_each_thumbnail_is_marked_and_the_preview_says_why(open_demo):
    app = chat(open_demo)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await type_text(pilot, "a gray striped skirt")  # the small catalogue has none
        await settle(pilot)
        assert "No gray striped skirt; closest first." in conversation_text(app)
        tiles = list(app.query(ResultTile))
        marks = [tile.query_one(".marks").content.plain for tile in tiles]
        assert all(len(mark) == 3 and set(mark) <= {"✓", "✗"} for mark in marks)
        assert all("✗" in mark for mark in marks)  # nothing meets all three
        assert marks[0] in screen_text(app)
        await pilot.press("1", "enter")
        await settle(pilot)
        assert isinstance(app.screen, PreviewScreen)
        text = screen_text(app)
        first = tiles[0].result
        for label, probability in first.evidence.items():
            mark = "✓" if first.meets(label) else "✗"
            assert f"{mark} {label} {probability:.2f}" in text


@pytest.mark.asyncio
async def test_remove_a_constraint_from_the_memory_panel(open_demo):
    app = chat(open_demo)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await type_text(pilot, "a red dress, not striped")
        await settle(pilot)
        assert memory_labels(app) == ["dress", "red", "not striped"]
        before = shown(app)
        panel = app.query_one(MemoryPanel)
        panel.focus()
        panel.highlighted = 1
        await pilot.press("x")
        await settle(pilot)
        assert memory_labels(app) == ["dress", "not striped"]
        assert "− not striped" in screen_text(app) and shown(app) != before


@pytest.mark.asyncio
async def test_a_problem_with_a_turn_is_shown_in_the_conversation(open_demo):
    app = chat(open_demo)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await type_text(pilot, "not 3")
        await settle(pilot)
        assert "! No results are shown yet" in conversation_text(app)
        await type_text(pilot, "a jacket")
        await settle(pilot)
        page = shown(app)
        await type_text(pilot, "not 40")
        await settle(pilot)
        assert "! There is no #40" in screen_text(app)
        assert app.query(ExchangeView).last().problem == "There is no #40: only 10 results are shown."
        assert shown(app) == page


@pytest.mark.asyncio
async def test_resume_shows_the_earlier_turns_memory_and_results(open_demo, demo_home):
    first = chat(open_demo)
    async with first.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await type_text(pilot, "a long dress")
        await settle(pilot)
        await type_text(pilot, "make it pink")
        await settle(pilot)
        session_id, page = first.session.id, shown(first)

    again = chat(open_demo, session_id=session_id)
    async with again.run_test(size=SIZE) as pilot:
        await settle(pilot)
        text = screen_text(again)
        assert "› a long dress" in text and "› make it pink" in text
        assert memory_labels(again) == ["dress", "long", "pink"]
        assert shown(again) == page
        assert f"session {session_id}" in text


@pytest.mark.asyncio
async def test_an_unknown_session_starts_a_new_one_and_says_why(open_demo):
    app = chat(open_demo, session_id="nope")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert "No session 'nope'" in screen_text(app)
        assert app.session.id != "nope"


@pytest.mark.asyncio
async def test_past_sessions_can_be_listed_and_resumed(open_demo):
    app = chat(open_demo)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await type_text(pilot, "checked shorts")
        await settle(pilot)
        old_id = app.session.id
        await pilot.press("ctrl+n")
        await settle(pilot)
        assert app.session.id != old_id and memory_labels(app) == [] and shown(app) == []
        assert f"New session {app.session.id}." in screen_text(app)
        await pilot.press("ctrl+o")
        await settle(pilot)
        assert isinstance(app.screen, SessionsScreen)
        assert "checked shorts" in screen_text(app)
        options = app.screen.query_one("#sessions")
        options.highlighted = options.get_option_index(old_id)
        await pilot.press("enter")
        await settle(pilot)
        assert app.session.id == old_id and "› checked shorts" in screen_text(app)


@pytest.mark.asyncio
async def test_the_thumbnail_cache_decodes_each_image_once(open_demo):
    app = chat(open_demo)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await type_text(pilot, "a black t-shirt")
        await settle(pilot)
        decoded = app.cache.decoded
        await type_text(pilot, "a black t-shirt")
        await settle(pilot)
        assert app.cache.decoded == decoded == len(set(shown(app)))


@pytest.mark.asyncio
async def test_turns_typed_while_loading_wait_for_the_agent(fake_agent):
    gate = threading.Event()
    app = chat(gated(fake_agent, gate))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert "loading the library" in screen_text(app)
        await type_text(pilot, "a red dress")
        await type_text(pilot, "make it blue")
        await pilot.pause()
        assert "waiting for the library…" in screen_text(app)
        assert fake_agent.calls == []
        gate.set()
        await settle(pilot)
        assert fake_agent.calls == [("say", "a red dress"), ("say", "make it blue")]
        assert memory_labels(app) == ["dress", "blue"] and "queued" not in screen_text(app)


@pytest.mark.asyncio
async def test_a_crashing_agent_is_reported_not_fatal(fake_agent):
    def broken(text):
        raise RuntimeError("index file is corrupt")

    app = chat(lambda: fake_agent)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.session.say = broken
        await type_text(pilot, "a red dress")
        await settle(pilot)
        assert "! index file is corrupt" in screen_text(app)
        assert app.is_running


@pytest.mark.asyncio
async def test_a_library_that_cannot_open_is_reported(tmp_path):
    def missing():
        raise FileNotFoundError("No library 'holiday' in /tmp/x: `rummage index DIR` first")

    app = chat(missing)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await type_text(pilot, "a red dress")
        await settle(pilot)
        assert "Could not open the library: No library 'holiday'" in conversation_text(app)
        assert "! The library is not loaded" in conversation_text(app)


@pytest.mark.asyncio
async def test_before_any_results_a_digit_is_just_typed(fake_agent):
    app = chat(lambda: fake_agent)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await type_text(pilot, "2 red shirts")
        await settle(pilot)
        assert fake_agent.calls == [("say", "2 red shirts")]


@pytest.mark.asyncio
async def test_help_and_quitting(fake_agent: FakeAgent):
    app = chat(lambda: fake_agent)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        await pilot.press("q", "?")  # typed into the input: neither quits nor opens help
        assert app.query_one("#prompt").value == "q?" and app.is_running
        await pilot.press("ctrl+u", "escape", "?")  # from the results grid, "?" is help
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape", "q")
    assert app.return_code == 0 and fake_agent.closed


def test_tiles_fill_the_space_in_two_rows_of_five_when_they_can():
    assert tile_geometry(100, 30, 10)[0] == 5
    _, width, height = tile_geometry(100, 30, 10)
    assert 5 * (width + 2) + 4 <= 100 and 2 * (height + 3) <= 30 and height == round(width / 2)
    assert tile_geometry(30, 60, 10)[0] <= 2  # tall and narrow: fewer columns
    assert tile_geometry(10, 4, 10)[1] >= 6  # no room at all: readable images, and a scrollbar


def test_status_line_names_library_size_model_and_session():
    status = StatusLine()
    status.library, status.image_count, status.model, status.session_id = "demo", 20000, "m", "s1"
    assert status.render().plain == "demo · 20,000 images · m · session s1"


@pytest.mark.asyncio
async def test_what_the_agent_repaired_on_opening_is_told_in_the_conversation(fake_agent):
    fake_agent.notices.append("checkpoints.db could not be read; it was moved to "
                              "checkpoints.db.damaged-1 and sessions are rebuilt")
    app = chat(lambda: fake_agent)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert "checkpoints.db could not be read" in conversation_text(app)
