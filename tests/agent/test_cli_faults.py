"""What a person can do to `rummage` that once ended in a traceback or a hijacked terminal:
hostile file names and words, odd library names, absurd options, a read-only or full disk, a
damaged database, bytes that are not UTF-8, and output piped into `head`."""

from __future__ import annotations

import errno
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from agent.cli import main
from agent.terminal import printable
from retrievers.encoders import ModelSpec
from retrievers.library import Library
from tests.conftest import make_image

HOSTILE = "evil\x1b]0;pwned\x07\x1b[2J\x9b31m.png"  # retitles the window, clears the screen


@pytest.fixture
def hostile_library(rummage_home, tmp_path, tiny_model_dir) -> str:
    folder = tmp_path / "hostile"
    for i in range(3):
        make_image(folder / f"{i}.png", (i * 80, 0, 0))
    make_image(folder / HOSTILE, (0, 0, 200))
    library = Library.create(rummage_home, "hostile",
                             ModelSpec.from_options(None, None, str(tiny_model_dir)),
                             vocabulary="demo")
    library.index_folder(folder)
    library.close()
    return "hostile"


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def one_line(err: str) -> bool:
    return err.count("\n") == 1 and "Traceback" not in err


# -- clean terminal output -----------------------------------------------------------------


def test_printable_escapes_what_a_terminal_would_obey():
    assert printable(HOSTILE) == "evil\\x1b]0;pwned\\x07\\x1b[2J\\x9b31m.png"
    assert printable("bad\udcff.png") == "bad\\xff.png"  # a byte that was not UTF-8
    assert printable("abc\u202egnp.exe") == "abc\\u202egnp.exe"
    assert printable("two\nlines\ttab\x7f") == "two\\x0alines\\x09tab\\x7f"
    assert printable("two\nlines", lines=True) == "two\nlines"
    assert printable("café · ✓ 日本") == "café · ✓ 日本"


def test_a_hostile_file_name_or_request_never_reaches_the_terminal_raw(hostile_library, capsys):
    code, out, err = run(capsys, "search", "red", "-l", hostile_library)
    assert code == 0 and "\x1b" not in out + err and "\x07" not in out and "\x9b" not in out
    assert "evil\\x1b]0;pwned\\x07\\x1b[2J\\x9b31m.png" in out
    code, out, err = run(capsys, "ask", "a red dress \x1b[2J\x1b]0;x\x07", "-l", hostile_library)
    assert code == 0 and "\x1b" not in out + err and "\x07" not in out + err
    assert "\\x1b[2J" in out  # the person's own words, shown as they were typed
    code, _, err = run(capsys, "search", "red", "-l", hostile_library, "--image", "/no/\x1b[2J")
    assert code == 2 and "\x1b" not in err and one_line(err)


# -- names and options ---------------------------------------------------------------------


def test_a_library_name_never_means_a_folder_of_the_current_directory(
        hostile_library, tmp_path, monkeypatch, capsys, tiny_model_dir, rummage_home):
    # a folder called like the library, holding a library of its own, in the current folder
    decoy = tmp_path / "cwd" / hostile_library
    make_image(tmp_path / "decoy-pics" / "a.png")
    Library.create(decoy.parent, hostile_library,
                   ModelSpec.from_options(None, None, str(tiny_model_dir))).close()
    monkeypatch.chdir(decoy.parent)
    code, out, _ = run(capsys, "search", "red", "-l", hostile_library, "--json")
    assert code == 0 and len(out.splitlines()) > 3  # the home's library of 4 images, not the decoy
    code, out, _ = run(capsys, "search", "red", "-l", f"./{hostile_library}", "--json")
    assert code == 0 and out.strip() == "[]"  # spelled as a path: the decoy, empty


RULE = "a library name is 1 to 64 letters, digits, '-', '_' or '.', not starting with '.'"


@pytest.mark.parametrize("name", ["a" * 300, "two\nlines", "x\x1b[2J", "é" * 65])
def test_a_bad_library_name_is_one_line_naming_the_rule(name, capsys, rummage_home):
    code, _, err = run(capsys, "search", "red", "-l", name)
    assert code == 2 and one_line(err) and "\x1b" not in err and RULE in err
    assert not rummage_home.exists() or not any(rummage_home.iterdir())


def test_a_new_library_needs_a_name_not_a_path(tmp_path, tiny_model_dir, capsys):
    make_image(tmp_path / "pics" / "a.png")
    for name in ("a/b", ".hidden"):
        code, _, err = run(capsys, "index", str(tmp_path / "pics"), "-l", name,
                           "--checkpoint", str(tiny_model_dir))
        assert code == 2 and one_line(err) and RULE in err
    code, _, err = run(capsys, "search", "red", "-l", "./nowhere")
    assert code == 2 and err == "rummage: No library in the folder './nowhere': its " \
                                "library.db is missing\n"


def test_k_is_cut_to_the_library_and_must_be_at_least_one(hostile_library, capsys):
    code, out, _ = run(capsys, "search", "red", "-l", hostile_library, "-k", "10000000000")
    assert code == 0 and len(out.splitlines()) == 4  # every image, once
    with pytest.raises(SystemExit) as done:
        main(["search", "red", "-l", hostile_library, "-k", "-1"])
    assert done.value.code == 2 and "must be at least 1" in capsys.readouterr().err


# -- faults of the machine: one line, never a traceback ------------------------------------


def test_a_read_only_home_is_one_line(monkeypatch, tmp_path, tiny_model_dir, capsys):
    def refuse(self, *args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(self))

    monkeypatch.setattr(Path, "mkdir", refuse)
    code, _, err = run(capsys, "index", str(tmp_path), "-l", "pics",
                       "--checkpoint", str(tiny_model_dir))
    assert code == 1 and one_line(err)
    assert err.startswith("rummage: cannot use ") and err.rstrip().endswith("permission denied")


def test_a_full_disk_is_one_line(hostile_library, monkeypatch, capsys):
    import agent.cli

    def full(args):
        raise OSError(errno.ENOSPC, "No space left on device", "/home/x/library.db")

    monkeypatch.setattr(agent.cli, "cmd_search", full)  # as a write deep in sqlite would fail
    code = main(["search", "red", "-l", hostile_library])
    err = capsys.readouterr().err
    assert code == 1 and err == "rummage: cannot write /home/x/library.db: disk full\n"


@pytest.fixture
def small_disk(tmp_path):
    """A 1 MB tmpfs: a real full disk. Mounting needs root; elsewhere the simulated
    test above stands in."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(disk)],
                             capture_output=True, check=False)
    if mounted.returncode:
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    yield disk
    subprocess.run(["umount", "-l", str(disk)], check=False)


def test_a_really_read_only_home_is_one_line_for_every_command(small_disk, tmp_path,
                                                               tiny_model_dir, monkeypatch,
                                                               capsys):
    monkeypatch.setenv("RUMMAGE_HOME", str(small_disk))
    folder = tmp_path / "pics"
    make_image(folder / "0.png", (200, 0, 0))
    library = Library.create(small_disk, "pics",
                             ModelSpec.from_options(None, None, str(tiny_model_dir)))
    library.index_folder(folder)
    library.close()
    remounted = subprocess.run(["mount", "-o", "remount,ro", str(small_disk)],
                               capture_output=True, check=False)
    if remounted.returncode:
        pytest.skip("cannot remount the tmpfs read-only here")
    new = ["index", str(folder), "-l", "new", "--checkpoint", str(tiny_model_dir)]
    for command in (["index", str(folder), "-l", "pics"], new,
                    ["ask", "a red dress", "-l", "pics"], ["search", "red", "-l", "pics"],
                    ["libraries"]):
        code, _, err = run(capsys, *command)
        assert "Traceback" not in err, command
        if code:  # reading may work; whatever fails says so in one line
            assert code in (1, 2) and one_line(err), (command, err)
    code, _, err = run(capsys, *new)  # a new library cannot be made there
    assert code == 1 and "read-only" in err, err


def test_a_really_full_disk_is_one_line_and_loses_no_recorded_turn(small_disk, tmp_path,
                                                                   tiny_model_dir, monkeypatch,
                                                                   capsys):
    monkeypatch.setenv("RUMMAGE_HOME", str(small_disk))
    folder = tmp_path / "pics"
    for i in range(3):
        make_image(folder / f"{i}.png", (i * 80, 0, 0))
    library = Library.create(small_disk, "pics",
                             ModelSpec.from_options(None, None, str(tiny_model_dir)),
                             vocabulary="demo")
    library.index_folder(folder)
    library.close()
    code, out, _ = run(capsys, "ask", "a red dress", "-l", "pics")
    session = out.split("session: ")[1].split()[0]
    filler = small_disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:  # every byte the disk has left
        while True:
            os.write(fd, b"x" * 4096)
    except OSError as e:
        assert e.errno == errno.ENOSPC
    finally:
        os.close(fd)
    codes = []
    for text in ["make it blue", "not 2", "none of these", "with long sleeves"]:
        code, out, err = run(capsys, "ask", text, "-l", "pics", "--session", session)
        codes.append(code)
        assert code in (0, 1) and "Traceback" not in err
        if code:
            assert one_line(err) and "disk full" in err
    assert 1 in codes  # the disk did fill up
    filler.unlink()
    code, out, err = run(capsys, "ask", "thanks", "-l", "pics", "--session", session)
    assert code == 0, err
    from memory.store import Store

    with Store(small_disk / "pics" / "library.db") as store:
        kept = [t["text"] for t in store.turns(session)]
    said = ["make it blue", "not 2", "none of these", "with long sleeves"]
    assert kept == ["a red dress", *[t for t, c in zip(said, codes) if c == 0], "thanks"]


def test_a_garbage_checkpoints_file_is_set_aside_in_one_line(hostile_library, rummage_home,
                                                              capsys):
    # the checkpoints are a working copy of what library.db records: the turn goes on
    (rummage_home / hostile_library / "checkpoints.db").write_bytes(b"not a database" * 100)
    code, out, err = run(capsys, "ask", "a red dress", "-l", hostile_library)
    assert code == 0 and one_line(err) and "file is not a database" in err
    assert "checkpoints.db" in err and "moved to checkpoints.db.damaged-" in err
    assert "session:" in out


def test_a_bug_is_one_line_unless_debugging_is_asked_for(hostile_library, monkeypatch, capsys):
    import agent.cli

    def broken(args):
        raise TypeError("cannot pickle '_thread.lock' object")

    monkeypatch.setattr(agent.cli, "cmd_search", broken)  # an unpicklable value, say
    code = main(["search", "red", "-l", hostile_library])
    err = capsys.readouterr().err
    assert code == 1 and one_line(err) and "RUMMAGE_DEBUG=1" in err and "cannot pickle" in err
    monkeypatch.setenv("RUMMAGE_DEBUG", "1")
    with pytest.raises(TypeError):
        main(["search", "red", "-l", hostile_library])


def test_damaged_database_errors_are_faults_not_bugs():
    from agent.cli import fault_line

    assert "disk full" in fault_line(sqlite3.OperationalError("database or disk is full"))
    assert "read-only" in fault_line(sqlite3.OperationalError("attempt to write a readonly "
                                                              "database"))
    assert "name is too long" in fault_line(OSError(errno.ENAMETOOLONG, "File name too long",
                                                    "x" * 300))
    assert fault_line(TypeError("a bug")) is None


# -- the shell around us: real processes ---------------------------------------------------


def _rummage(*args: bytes | str, home: Path, **kwargs) -> subprocess.Popen:
    env = dict(os.environ, RUMMAGE_HOME=str(home), PYTHONPATH=str(Path.cwd()))
    return subprocess.Popen([sys.executable, "-m", "agent.cli", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kwargs)


def test_invalid_utf8_in_the_arguments_is_one_line(hostile_library, rummage_home):
    child = _rummage(b"search", b"red \xff dress", b"-l", hostile_library.encode(),
                     home=rummage_home)
    _, err = child.communicate(timeout=120)
    assert child.returncode == 2 and b"Traceback" not in err and err.count(b"\n") == 1
    assert b"TEXT is not valid UTF-8 (red \\xff dress)" in err


def test_output_piped_into_a_reader_that_goes_away_ends_quietly(hostile_library, rummage_home):
    # as `rummage search red | head -0`: the reader closes the pipe before we write
    child = _rummage("search", "red", "-l", hostile_library, "-k", "4", home=rummage_home)
    child.stdout.close()
    err = child.stderr.read()
    child.wait(timeout=120)
    assert child.returncode == 141 and err == b"", err.decode(errors="replace")
