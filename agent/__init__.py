"""The conversational agent: turn interpretation, memory updates, retrieval, and its Python API."""

from agent.api import Agent, AgentConfig, Reply, Result, Session

__all__ = ["Agent", "AgentConfig", "Reply", "Result", "Session"]
