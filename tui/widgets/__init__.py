"""The widgets of the chat app, one self-contained file each."""
