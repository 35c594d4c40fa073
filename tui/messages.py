"""What the widgets ask the app to do; the app is the only place that talks to the Agent.

Widgets never hold a Session: they post one of these and the app queues the work, so every
call into the agent runs on one worker thread, in order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from textual.message import Message

Feedback = Literal["like", "dislike", "more"]


@dataclass
class TurnSubmitted(Message):
    """The user pressed Enter on some text: one turn of the conversation."""

    text: str


@dataclass
class FeedbackRequested(Message):
    """Like, dislike or "more like this" for one shown result (an agent.api.Result)."""

    kind: Feedback
    result: Any


@dataclass
class PreviewRequested(Message):
    """Open the larger preview of a result."""

    result: Any


@dataclass
class ConstraintRemovalRequested(Message):
    """Drop one constraint from the memory (an agent.api.MemoryItem)."""

    item: Any


@dataclass
class GridKeyFromPrompt(Message):
    """A digit or arrow typed into the empty input: it selects a result instead."""

    key: str
