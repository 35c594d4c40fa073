"""Modal screens of the chat app: preview, sessions, help."""
