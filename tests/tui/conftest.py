"""Fixtures for the chat app: the real agent on the suite's demo library, and a fake."""

from __future__ import annotations

import pytest

from tests.tui.fakes import FakeAgent, FakeWorld


@pytest.fixture
def open_demo(demo_home):
    """What make_app(open_agent=...) calls: the real Agent.open on the small demo library."""
    from agent import Agent

    def open_agent():
        agent = Agent.open("demo", home=demo_home)
        agent.warm_up()
        return agent

    return open_agent


@pytest.fixture(scope="session")
def fake_world(tmp_path_factory) -> FakeWorld:
    return FakeWorld(tmp_path_factory.mktemp("fake-world"))


@pytest.fixture
def fake_agent(fake_world) -> FakeAgent:
    return FakeAgent(fake_world)
