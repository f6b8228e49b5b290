"""The command line and the service have no import cycles: every service entry point depends on the core,
never the other way round (issue #18)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import reelforge

SRC = Path(reelforge.__file__).resolve().parent


def module_graph() -> dict[str, set[str]]:
    """``module -> reelforge modules it imports``, from the source: every import counts, also those inside
    functions and under ``TYPE_CHECKING`` (a lazy import is still a dependency)."""
    modules: dict[str, tuple[Path, bool]] = {}
    for path in SRC.rglob("*.py"):
        parts = ["reelforge", *path.relative_to(SRC).with_suffix("").parts]
        package = parts[-1] == "__init__"
        modules[".".join(parts[:-1] if package else parts)] = (path, package)
    graph: dict[str, set[str]] = {}
    for name, (path, package) in modules.items():
        base = name if package else name.rpartition(".")[0]
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                deps |= {a.name for a in node.names if a.name in modules}
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    parent = base.split(".")[: len(base.split(".")) - node.level + 1]
                    target = ".".join(parent + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                if target in modules:
                    deps.add(target)
                deps |= {f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in modules}
        graph[name] = deps - {name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def entry_points(graph: dict[str, set[str]]) -> list[str]:
    return sorted(m for m in graph if m == "reelforge.cli" or m.startswith("reelforge.service"))


def test_no_import_cycle_through_the_cli_or_the_service():
    graph = module_graph()
    assert "reelforge.service.executors" in graph and "reelforge.cli" in graph
    watched = set(entry_points(graph))
    bad = [c for c in cycles(graph) if watched & set(c)]
    assert bad == [], f"import cycles: {bad}"


def test_the_core_never_imports_the_command_line():
    """``reelforge.cli`` assembles the commands; nothing imports it back (the service's commands included)."""
    graph = module_graph()
    importers = sorted(m for m, deps in graph.items() if "reelforge.cli" in deps)
    assert importers == ["reelforge.__main__"]
    assert "reelforge.service.executors" not in graph["reelforge.service.celery_app"]


def test_each_entry_point_imports_on_its_own(tmp_path):
    """Each module imported first, in a clean ``reelforge`` namespace (as a worker or a test would)."""
    names = entry_points(module_graph())
    code = (
        "import importlib, json, sys\n"
        "failed = {}\n"
        f"for name in {names!r}:\n"
        "    for k in [k for k in sys.modules if k == 'reelforge' or k.startswith('reelforge.')]:\n"
        "        del sys.modules[k]\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except ModuleNotFoundError as exc:\n"
        "        if (exc.name or '').startswith('reelforge'):\n"
        "            failed[name] = repr(exc)\n"  # a missing optional extra (celery) is not our cycle
        "    except Exception as exc:\n"
        "        failed[name] = repr(exc)\n"
        "print(json.dumps(failed))\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout.strip().splitlines()[-1]) == {}
