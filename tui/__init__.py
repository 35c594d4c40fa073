"""The terminal chat, `rummage chat`: a Textual app over the agent's Python API."""
