"""Fixtures for the chat app: a small real demo library, built once, and the deterministic fake."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.tui.fakes import FakeAgent, FakeWorld

DEMO_SIZE = 600  # big enough for ten results of every colour, small enough to build in seconds


@pytest.fixture(scope="session")
def demo_home(tmp_path_factory) -> Path:
    """A RUMMAGE_HOME holding the real demo library (generated garments, the bundled model)."""
    from agent.demo import ensure_demo_library

    home = tmp_path_factory.mktemp("tui-home")
    ensure_demo_library(home, n=DEMO_SIZE)
    return home


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
