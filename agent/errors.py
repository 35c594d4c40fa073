"""Which exceptions are a user's mistake (one line, exit 2) rather than a bug (a traceback)."""

from __future__ import annotations


def user_errors() -> tuple[type[BaseException], ...]:
    from agent.api import NoSuchSession
    from retrievers.encoders import EncoderError
    from retrievers.images import BadImage
    from retrievers.library import LibraryError

    errors: list[type[BaseException]] = [EncoderError, LibraryError, BadImage, NoSuchSession]
    return tuple(errors)
