"""The memory rules a user expects, told as conversations with the demo library and its model."""

from __future__ import annotations

import pytest

from agent import Agent


@pytest.fixture(scope="module")
def agent(demo_home):
    agent = Agent.open("demo", home=demo_home, persist=False)
    yield agent
    agent.close()


def metas(agent, reply):
    return [agent.image(r.id).meta for r in reply.results]


def test_make_it_blue_replaces_red(agent):
    session = agent.new_session()
    red = metas(agent, session.say("a red dress"))
    assert sum(m["color"] == "red" for m in red) >= 8
    blue = metas(agent, session.say("make it blue"))
    assert not any(m["color"] == "red" for m in blue)
    assert sum(m["color"] == "blue" and m["category"] == "dress" for m in blue) >= 7
    assert session.last_reply.summary == "dress · blue"


def test_long_sleeves_replace_short_sleeves(agent):
    session = agent.new_session()
    session.say("a shirt with short sleeves")
    found = metas(agent, session.say("no, long sleeves"))
    assert sum(m["sleeves"] == "long" for m in found) >= 8
    assert not any(m["sleeves"] == "short" for m in found[:5])


def test_a_negative_persists_until_revoked(agent):
    session = agent.new_session()
    for text in ["a skirt, not checked", "green", "long"]:
        found = metas(agent, session.say(text))
        assert not any(m["pattern"] == "checked" for m in found), text
    assert "not checked" in session.last_reply.summary
    session.say("actually, checks are fine")
    assert "checked" not in session.last_reply.summary


def test_disliked_image_never_returns(agent):
    session = agent.new_session()
    first = session.say("a yellow sweater").results[0].id
    session.say("not 1")
    for text in ["a yellow sweater", "yellow", "start over: a yellow sweater"]:
        assert first not in [r.id for r in session.say(text).results], text


def test_like_4_but_in_green_keeps_the_garment_and_changes_the_colour(agent):
    session = agent.new_session()
    reply = session.say("a striped t-shirt with short sleeves")
    fourth = agent.image(reply.results[3].id).meta
    found = metas(agent, session.say("like 4 but in green"))
    # The small test catalogue holds only a few green twins of #4: they come first...
    for m in found[:2]:
        assert (m["color"], m["category"], m["pattern"], m["sleeves"]) == (
            "green", fourth["category"], fourth["pattern"], fourth["sleeves"])
    # ...and green stays the rule of the page.
    assert sum(m["color"] == "green" for m in found) >= 6


def test_liked_images_pull_the_results_towards_them(agent):
    session = agent.new_session()
    reply = session.say("trousers")
    liked = agent.image(reply.results[5].id).meta  # an arbitrary pair among the first page
    before = sum(m["color"] == liked["color"] for m in metas(agent, reply))
    after = sum(m["color"] == liked["color"] for m in metas(agent, session.say("more like 6")))
    assert after > before and after >= 5  # at least half the page now shares its colour


def test_a_complex_request_is_satisfied_proposition_by_proposition(agent):
    session = agent.new_session()
    found = metas(agent, session.say("a navy dress with long sleeves, not striped"))
    good = [m for m in found if m["category"] == "dress" and m["color"] == "navy"
            and m["sleeves"] == "long" and m["pattern"] != "striped"]
    assert len(good) >= 7


def test_removing_a_constraint_changes_the_results(agent):
    session = agent.new_session()
    session.say("a purple jacket")
    reply = session.remove_constraint("purple")
    assert reply.summary == "jacket"
    assert len({m["color"] for m in metas(agent, reply)}) >= 3


def test_more_like_6_remembers_six_was_picked_over_the_rest_of_the_page(agent):
    session = agent.new_session()
    page = [r.id for r in session.say("trousers").results]
    session.say("more like 6")
    (choice,) = session.state.choices
    assert choice.picked == page[5]
    assert choice.over == tuple(page[:5] + page[6:])
    session.say("undo")  # the choice goes with the turn that made it
    assert session.state.choices == ()



@pytest.mark.parametrize("request_text, colour", [
    ("trousers with orange checks", "orange"), ("a skirt with white dots", "white"),
    ("a shirt with red stripes", "red"), ("a dress with yellow stripes", "yellow"),
    ("a sweater with black polka dots", "black")])
def test_a_coloured_pattern_colours_the_pattern_not_the_garment(agent, request_text, colour):
    # the encoder reads "with orange checks" as much as orange trousers (before the ground was
    # read, four of these five failed here); the test library holds 3 to 7 of each
    found = metas(agent, agent.new_session().say(request_text))[:3]
    assert sum(m["pattern_color"] == colour for m in found) >= 2, found
    assert not any(m["color"] == colour for m in found), found
