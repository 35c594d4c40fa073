"""`python -m tui.app` in a real terminal (tmux): type a query, see half-cell thumbnails, quit.

Pilot runs the app without a terminal; this is the one test that goes through a pty, the
terminal queries textual-image makes at import, and Textual's real driver.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import DEMO_TEST_ITEMS

TMUX = shutil.which("tmux")
REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(
    TMUX is None, reason="tmux is not installed (`make test` installs it with apt-get)"
)


class Terminal:
    """A tmux server of our own (its own socket), holding one 120x36 window."""

    def __init__(self, socket: Path) -> None:
        self.socket = socket

    def tmux(self, *args: str) -> str:
        # -f /dev/null: none of the machine's tmux configuration, the same terminal everywhere.
        done = subprocess.run([TMUX, "-S", str(self.socket), "-f", "/dev/null", *args],
                              capture_output=True, text=True, timeout=10, check=False)
        return done.stdout

    def start(self, command: str, env: dict[str, str]) -> None:
        extra = [arg for key, value in env.items() for arg in ("-e", f"{key}={value}")]
        self.tmux("new-session", "-d", "-s", "chat", "-x", "120", "-y", "36", "-c", str(REPO),
                  *extra, command)

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p", "-t", "chat")

    def wait_for(self, *texts: str, timeout: float = 60.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            if all(text in screen for text in texts):
                return screen
            time.sleep(0.2)
        raise AssertionError(f"never saw {texts} on the screen:\n{self.screen()}")

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", "-t", "chat", *keys)

    def type(self, text: str) -> None:
        self.tmux("send-keys", "-t", "chat", "-l", text)

@pytest.fixture
def terminal(tmp_path):
    term = Terminal(tmp_path / "tmux.sock")
    yield term
    term.tmux("kill-server")


def test_the_chat_in_a_real_terminal(terminal, demo_home, tmp_path):
    # The shell writes the app's exit status to a file: tmux does not always reap the process
    # promptly enough to report it.
    status = tmp_path / "status"
    python, library, home, out = (shlex.quote(str(p)) for p in (
        sys.executable, demo_home / "demo", demo_home, status))
    command = f"{python} -m tui.app --library {library} --home {home}; echo $? > {out}"
    terminal.start(command, {"RUMMAGE_HOME": str(demo_home), "HF_HUB_OFFLINE": "1",
                             "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get(
                                 "PYTHONPATH", "")])})
    terminal.wait_for(f"{DEMO_TEST_ITEMS:,} images", "Describe what you want")

    terminal.type("a red dress")
    terminal.keys("Enter")
    screen = terminal.wait_for("#10", "Results · dress · red")
    assert "› a red dress" in screen
    assert "▀" in screen  # thumbnails drawn with half cells (tmux has no Sixel or Kitty)

    terminal.keys("4")  # the input is empty: #4 is selected and the grid has the focus ...
    terminal.wait_for("l Like")  # ... so the footer shows the grid's keys
    terminal.keys("d")
    terminal.wait_for("› not #4", "1 disliked")

    terminal.keys("q")
    deadline = time.monotonic() + 15
    while not (status.exists() and status.read_text().strip()) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert status.exists(), f"the app did not exit:\n{terminal.screen()}"
    assert status.read_text().strip() == "0"
