"""The chat app's agent contract holds for the real Agent and for the fake the tests drive."""

from __future__ import annotations

import inspect

import pytest

from agent.api import Agent, Session
from agent.contract import ChatAgent, ChatSession
from tests.tui.fakes import FakeAgent, FakeSession


def members(protocol) -> list[str]:
    return [name for name in protocol.__dict__ if not name.startswith("_")
            and name not in ("id",)]


def shape(cls, name: str):
    """A method's parameter names and kinds, or "property" for a property."""
    found = inspect.getattr_static(cls, name)
    if isinstance(found, property) or not callable(found):  # a fake may use a plain attribute
        return "property"
    return [(p.name, p.kind) for p in inspect.signature(found).parameters.values()]


@pytest.mark.parametrize(("protocol", "real", "fake"), [
    (ChatAgent, Agent, FakeAgent), (ChatSession, Session, FakeSession)])
def test_the_real_agent_and_the_fake_keep_the_same_contract(protocol, real, fake):
    for name in members(protocol):
        wanted = shape(protocol, name)
        assert shape(real, name) == wanted, f"{real.__name__}.{name} left the contract"
        # the fake may serve a property as an attribute it sets in __init__ (size)
        if wanted == "property" and not hasattr(fake, name):
            continue
        assert shape(fake, name) == wanted, f"{fake.__name__}.{name} drifted"


def test_an_opened_fake_is_a_chat_agent(fake_agent):
    assert isinstance(fake_agent, ChatAgent)
    assert isinstance(fake_agent.new_session(), ChatSession)
