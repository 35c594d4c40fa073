"""The layers stay one-way and the demo world's words stay in the demo world.

The same rules as the design: `tui -> agent -> {memory, retrievers}`; memory and retrievers
never import agent; nothing below tui imports tui; no import cycle among the project's modules,
counting imports inside functions (a lazy import is still a dependency); and the garment
world's vocabulary appears as a string literal only under retrievers/demo/ (elsewhere it is
data: retrievers/demo/vocabulary.json).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("agent", "memory", "retrievers", "tui")
DEMO_WORDS = {"t-shirt", "shirt", "sweater", "jacket", "dress", "skirt", "trousers", "shorts",
              "sleeveless", "short sleeves", "long sleeves", "polka-dot", "knee-length",
              "striped", "checked", "pattern_color"}
ALLOWED = {"tui": set(PACKAGES), "agent": {"agent", "memory", "retrievers"},
           "memory": {"memory", "retrievers"}, "retrievers": {"retrievers"}}


def modules() -> dict[str, Path]:
    out = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            out[name.removesuffix(".__init__")] = path
    return out


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = set()
    for node in ast.walk(tree):
        targets = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
        for target in targets:
            parts = target.split(".")
            for end in range(len(parts), 0, -1):
                candidate = ".".join(parts[:end])
                if candidate in known and candidate != name:
                    found.add(candidate)
                    break
    return found


GRAPH = {name: imports(name, path, set(modules())) for name, path in modules().items()}


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_imports_go_one_way(module):
    top = module.split(".")[0]
    upward = [other for other in GRAPH[module] if other.split(".")[0] not in ALLOWED[top]]
    assert not upward, f"{module} imports {upward}"


def test_no_import_cycles():
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for other in GRAPH[node]:
            if state.get(other) == 1:
                cycle = path[path.index(other):] + [other]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if other not in state:
                visit(other, [*path, other])
        state[node] = 2

    for node in sorted(GRAPH):
        if node not in state:
            visit(node, [node])


def test_the_demo_vocabulary_lives_in_the_demo_world():
    found = []
    for name, path in modules().items():
        if name.startswith("retrievers.demo"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and node.value in DEMO_WORDS:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.value!r}")
    assert not found, found
