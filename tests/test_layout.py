"""The package's shape: imports run one way (no cycle, not even through an import inside a function), and the
serving side never reaches into captioner/train. Read from the source, so a new module is checked as it lands."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from captioner.data import REPO_ROOT

PACKAGE = REPO_ROOT / "captioner"


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(REPO_ROOT).with_suffix("").parts).removesuffix(".__init__")


def imported_modules(path: Path, known: set[str] | None = None) -> set[str]:
    """The package's modules that ``path`` imports anywhere in it (in functions too), except under
    ``if TYPE_CHECKING:``, which runs only for type checkers; with ``known`` None, every module name it imports from
    the package (``from .x import y`` as ``captioner....x``), whether it exists or not."""
    here = module_name(path).split(".")
    package = here if path.name == "__init__.py" else here[:-1]
    found = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(package[: len(package) - node.level + 1]) if node.level else ""
            source = ".".join(part for part in (base, node.module or "") if part)
            found.add(source)
            if known is not None:
                found.update(f"{source}.{alias.name}" for alias in node.names)  # ``from . import module``
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text()))
    if known is None:
        return {name for name in found if name.split(".")[0] == "captioner"}
    return {name for name in found if name in known}


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    """Module -> the package's modules it imports. The package root (``CaptionerError``, which every module
    imports, and ``load``, which imports the runtime when called) is the entry point, not a node."""
    paths = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    known = set(paths) - {"captioner"}
    return {name: imported_modules(path, known) - {name} for name, path in paths.items() if name != "captioner"}


def test_every_import_of_the_package_names_a_module_that_exists():
    """Imports inside functions run only when called: a moved module's old name would fail then, not on import."""
    modules = {module_name(p) for p in PACKAGE.rglob("*.py")}
    missing = {module_name(path): sorted(imported_modules(path) - modules)
               for path in PACKAGE.rglob("*.py") if imported_modules(path) - modules}
    assert missing == {}


def test_imports_run_one_way(graph):
    order, state = [], {}

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == "done":
            return
        assert state.get(name) != "open", f"import cycle: {' -> '.join(path[path.index(name):] + [name])}"
        state[name] = "open"
        for other in sorted(graph[name]):
            visit(other, path + [name])
        state[name] = "done"
        order.append(name)

    for name in sorted(graph):
        visit(name, [])
    assert "captioner.metrics" in order and "captioner.guidance.fitting" in order  # the walk saw the package


def test_the_serving_side_never_imports_training(graph):
    """The CLI fronts both sides (its training commands import captioner.train when they run); nothing else
    outside captioner/train may import it."""
    outside = {name: imports for name, imports in graph.items()
               if not name.startswith("captioner.train") and name not in ("captioner.cli", "captioner.__main__")}
    assert {name: sorted(i for i in imports if i.startswith("captioner.train")) for name, imports in outside.items()
            if any(i.startswith("captioner.train") for i in imports)} == {}


def test_what_serving_applies_of_guidance_sits_below_serving(graph):
    """Guidance's runtime part (the word groups, the recogniser, the rules) imports nothing that decodes, serves,
    scores or fits; fitting and pseudo-captions are the part above serving."""
    above = {"captioner.serving", "captioner.evaluate", "captioner.metrics", "captioner.guidance.fitting",
             "captioner.guidance.pseudo_captions", "captioner.decode", "captioner.alttext"}
    for name in ("captioner.guidance.concepts", "captioner.guidance.recognition", "captioner.guidance.rules"):
        assert not graph[name] & above, (name, sorted(graph[name] & above))


def test_the_top_level_stays_small():
    modules = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(modules) <= 16, modules
