"""What a fresh `rummage` process loads: a text search needs neither langgraph nor torch, an
unchanged folder re-indexes without the model, and the thread pools are sized on purpose."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import make_image

ROOT = Path(__file__).resolve().parents[2]


def run_python(code: str, **env: str) -> dict:
    """Run code in a fresh interpreter (this checkout first on the path); its last stdout line
    is JSON."""
    environment = {**os.environ, "PYTHONPATH": str(ROOT), **env}
    done = subprocess.run([sys.executable, "-c", code], env=environment, capture_output=True,
                          text=True, timeout=300, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


CLI_THEN_MODULES = """
import contextlib, io, json, sys
from agent.cli import main
with contextlib.redirect_stdout(io.StringIO()) as out:
    code = main(sys.argv[1:])
print(json.dumps({"code": code, "out": out.getvalue(),
                  "modules": sorted(m for m in sys.modules if "." not in m)}))
"""


def cli(*args: str) -> dict:
    return run_python(f"import sys; sys.argv = ['x', *{list(args)!r}]\n{CLI_THEN_MODULES}")


def test_a_text_search_loads_neither_langgraph_nor_torch_and_finds_the_same(
        tmp_path, tiny_model_dir, rummage_home):
    folder = tmp_path / "pictures"
    for i in range(12):
        make_image(folder / f"{i:02d}.png", (i * 20, 100, 255 - i * 20))
    first = cli("index", str(folder), "-l", "p", "--checkpoint", str(tiny_model_dir))
    assert first["code"] == 0 and "torch" in first["modules"]  # embedding needs the model

    search = cli("search", "a red square", "-l", "p", "--json")
    assert search["code"] == 0
    assert not {"langgraph", "langchain_core", "torch", "open_clip"} & set(search["modules"])

    expected = run_python(f"""
import json
from pathlib import Path
from retrievers.encoders import Encoder, ModelSpec
from retrievers.library import Library
library = Library.open("p", Path({str(rummage_home)!r}))
encoder = Encoder.load(ModelSpec.from_options(None, None, {str(tiny_model_dir)!r}), "cpu")
print(json.dumps([h.id for h in library.search_vector(encoder.encode_texts(["a red square"])[0])]))
""")
    assert [hit["id"] for hit in json.loads(search["out"])] == expected

    again = cli("index", str(folder), "-l", "p")
    assert again["code"] == 0 and "12 unchanged" in again["out"]
    assert "torch" not in again["modules"]  # nothing to embed: no model


THREADS = """
import json, torch
from threadpoolctl import threadpool_info
from retrievers.library import Library
from retrievers.threads import threads_for_bulk
print(json.dumps({"torch": torch.get_num_threads(),
                  "pools": sorted({p["num_threads"] for p in threadpool_info()})}))
"""


def test_threads_are_one_per_pool_for_a_search_unless_rummage_threads_says_otherwise():
    imported_first = "import agent.cli\n"  # the CLI sizes the pools before they load
    assert run_python(imported_first + THREADS) == {"torch": 1, "pools": [1]}
    assert run_python(imported_first + THREADS, RUMMAGE_THREADS="2") == {"torch": 2,
                                                                         "pools": [2]}


def test_opening_a_library_resizes_pools_loaded_before_it(rummage_home, tmp_path,
                                                          tiny_model_dir):
    opened = """
import json, torch, numpy
from threadpoolctl import threadpool_info
from pathlib import Path
from retrievers.library import Library
from retrievers.threads import threads_for_bulk
library = Library.open("p", Path(HOME))
seen = {"open": [torch.get_num_threads(), sorted({p["num_threads"] for p in threadpool_info()})]}
with threads_for_bulk():
    seen["bulk"] = [torch.get_num_threads()]
seen["after"] = [torch.get_num_threads()]
print(json.dumps(seen))
""".replace("HOME", repr(str(rummage_home)))
    folder = tmp_path / "pictures"
    make_image(folder / "one.png")
    assert cli("index", str(folder), "-l", "p", "--checkpoint", str(tiny_model_dir))["code"] == 0
    seen = run_python(opened, OMP_NUM_THREADS="2", OPENBLAS_NUM_THREADS="2")
    assert seen["open"] == [1, [1]]
    assert seen["bulk"] == [os.cpu_count()] and seen["after"] == [1]
