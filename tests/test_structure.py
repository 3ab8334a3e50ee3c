"""The shape of the package: no import cycle between qa's modules."""

from __future__ import annotations

import ast
from pathlib import Path

QA = Path(__file__).resolve().parent.parent / "qa"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(QA.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, modules: set[str]) -> set[str]:
    """The qa modules ``path`` imports, at the top or inside a function (relative or absolute)."""
    name = module_name(path)
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = ".".join(package[: len(package) - node.level + 1] + ([node.module] if node.module else []))
            elif node.module and (node.module == "qa" or node.module.startswith("qa.")):
                base = node.module
            else:
                continue
            for alias in node.names:  # `from . import links` imports the module qa.ingest.links
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name in modules)
    return {m for m in found if m in modules and m != name}


def import_graph() -> dict[str, set[str]]:
    files = {module_name(p): p for p in QA.rglob("*.py")}
    return {name: imports(path, set(files)) for name, path in files.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Each import cycle once, as the path from a module back to itself."""
    found, done = [], set()

    def visit(node: str, path: list[str]) -> None:
        if node in path:
            cycle = path[path.index(node):]
            if frozenset(cycle) not in done:
                done.add(frozenset(cycle))
                found.append(cycle + [node])
            return
        for nxt in sorted(graph[node]):
            if nxt not in finished:
                visit(nxt, path + [node])

    finished: set[str] = set()
    for start in sorted(graph):
        visit(start, [])
        finished.add(start)
    return found


def test_the_graph_sees_relative_imports():
    graph = import_graph()
    assert "qa.index.store" in graph["qa.pipeline"]
    assert "qa.ingest.links" in graph["qa.ingest.documents"] and "qa.ingest.links" in graph["qa.ingest.collection"]
    assert "qa.types" in graph["qa.reader.answers"]  # from ..types import ...


def test_cycles_are_found():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]


def test_no_import_cycle_in_qa():
    assert cycles(import_graph()) == []


#: The top level of qa: the facade, settings, errors, value types and seams, the CLIs, and one
#: package per stage of the pipeline (documents -> passages -> index -> retrieval -> reading -> answer).
ROOT_MODULES = {"__init__.py", "__main__.py", "_imports.py", "cli.py", "config.py", "errors.py", "files.py",
                "pipeline.py", "protocols.py", "retrieval.py", "train.py", "types.py"}
STAGE_PACKAGES = {"ingest", "index", "reader", "eval", "web"}


def test_the_top_level_holds_only_the_root_modules_and_the_stage_packages():
    modules = {p.name for p in QA.glob("*.py")}
    packages = {p.name for p in QA.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert modules == ROOT_MODULES
    assert packages == STAGE_PACKAGES
    assert {p.name for p in QA.iterdir() if p.is_dir() and p.name != "__pycache__"} == STAGE_PACKAGES | {"models"}


def test_the_graph_sees_modules_in_the_stage_packages():
    graph = import_graph()
    assert {"qa.ingest.parsing", "qa.index.indexer", "qa.eval.run", "qa.reader.answers"} <= set(graph)
    assert "qa.ingest.documents" in graph["qa.index.indexer"]  # from ..ingest.documents import ...
    assert "qa.files" in graph["qa.ingest.collection"]


#: Each stage may use the stages before it, never one after it.
LATER = {"ingest": ("qa.index", "qa.retrieval", "qa.reader", "qa.eval", "qa.web", "qa.pipeline"),
         "index": ("qa.retrieval", "qa.reader", "qa.eval", "qa.web", "qa.pipeline")}


def test_the_stages_depend_one_way():
    for module, targets in import_graph().items():
        stage = module.split(".")[1] if module.count(".") >= 2 else None
        for later in LATER.get(stage, ()):
            assert not any(t == later or t.startswith(later + ".") for t in targets), (module, later)


def test_an_install_takes_every_package_and_the_data_files():
    """A normal (non-editable) install holds what pyproject's package discovery finds."""
    tomllib = __import__("pytest").importorskip("tomllib")
    config = tomllib.loads((QA.parent / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    from setuptools import find_packages

    found = set(find_packages(str(QA.parent), **config["packages"]["find"]))
    assert found == {"qa"} | {f"qa.{p}" for p in STAGE_PACKAGES}
    data = config["package-data"]["qa"]
    assert {"models/*.onnx", "web/*.css"} <= set(data)
