"""The conversational agent: turn interpretation, memory updates, retrieval, and its Python API.

Why the API is imported on first use (PEP 562) rather than here: `import agent.cli` runs this
file, and agent.api brings langgraph and langchain_core (0.6-1.9 s) that `rummage search`
never uses. `from agent import Agent` works as before.
"""

__all__ = ["Agent", "AgentConfig", "Reply", "Result", "Session"]


def __getattr__(name: str):
    if name in __all__:
        from agent import api

        return getattr(api, name)
    raise AttributeError(f"module 'agent' has no attribute {name!r}")
