"""The agent's own exceptions: each carries the bad value and the fix. A leaf: imports nothing."""

from __future__ import annotations


class AgentError(Exception):
    """A request the agent cannot carry out as asked; the message says what to do."""


class NoSuchSession(AgentError, LookupError):
    def __init__(self, session_id: str, library: str):
        self.session_id, self.library = session_id, library
        super().__init__(f"No session {session_id!r} in library {library!r}: "
                         "`rummage chat` lists past sessions")


class UnknownSetting(AgentError, TypeError):
    def __init__(self, name: str, known: list[str]):
        self.name, self.known = name, tuple(known)
        super().__init__(f"No agent setting {name!r}; the settings are: {', '.join(known)}")


class DamagedCheckpoints(AgentError):
    def __init__(self, path):
        self.path = path
        super().__init__(f"{path} is damaged and cannot be repaired in place: move it away; "
                         "sessions are rebuilt from their recorded turns in library.db")


class CliError(Exception):
    """A user mistake at the command line: printed as one line, exit code 2."""
