"""The import rules of the house style, read from the source (every import, module level or inside a
function): HTTP only in `api/http`, the command line only in `api/cli`, `gis/` pure, no SQL in a route,
no cycle between the modules of `api/`, no private name imported across modules."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT

WEB = {"fastapi", "starlette"}
DATABASE = {"sqlalchemy", "geoalchemy2", "alembic", "psycopg"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _sources(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def _imports(path: Path) -> Iterator[tuple[int, str, list[str]]]:
    """(line, module imported, names imported from it) for every import statement of a file."""
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, []
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module, [a.name for a in node.names]


def _offenders(paths: list[Path], forbidden: set[str]) -> list[str]:
    return [f"{p.relative_to(ROOT)}:{line} imports {module}" for p in paths
            for line, module, _ in _imports(p) if module.split(".")[0] in forbidden]


def _inside(path: Path, folder: str) -> bool:
    return (ROOT / folder) in path.parents


def test_only_api_http_imports_the_web_framework():
    outside = [p for p in _sources("api") + _sources("gis") if not _inside(p, "api/http")]
    assert _offenders(outside, WEB) == []


def test_only_api_cli_imports_typer():
    outside = [p for p in _sources("api") + _sources("gis") if not _inside(p, "api/cli")]
    assert _offenders(outside, {"typer", "click"}) == []


def test_gis_imports_nothing_of_api_no_web_and_no_database():
    assert _offenders(_sources("gis"), {"api", "uvicorn", *WEB, *DATABASE}) == []


def test_route_modules_build_no_sql():
    """A route parses the request, calls a service or a query, shapes the answer: SQL lives in the domain
    packages (`api.cases.queries`, `api.reports`, ...) and in `api.db`."""
    routes = _sources("api/http/routes")
    assert routes, "no route modules found"
    assert _offenders(routes, DATABASE) == []
    assert [f"{p.relative_to(ROOT)}:{line} imports {m}" for p in routes for line, m, _ in _imports(p)
            if m.startswith("api.db")] == []


def test_the_domain_never_reaches_into_the_http_edge():
    outside = [p for p in _sources("api") if not _inside(p, "api/http") and not _inside(p, "api/cli")]
    assert [f"{p.relative_to(ROOT)}:{line} imports {m}" for p in outside for line, m, _ in _imports(p)
            if m.startswith(("api.http", "api.cli"))] == []


def _graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in _sources("api")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        targets = set()
        for _, module, imported in _imports(path):
            # `from api.cases import queries` imports the module api.cases.queries
            for candidate in [f"{module}.{n}" for n in imported] + [module]:
                if candidate in modules and candidate != name:
                    targets.add(candidate)
                    break
        graph[name] = targets
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_no_import_cycle_between_modules_of_api():
    """Lazy imports included: a cycle hidden inside a function is still a cycle."""
    graph = _graph()
    assert len(graph) > 30
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_private_name_is_imported_across_modules():
    offenders = [f"{p.relative_to(ROOT)}:{line} imports {module}.{n}"
                 for p in _sources("api") + _sources("gis") + _sources("tests") + _sources("bench")
                 for line, module, names in _imports(p) if module.startswith(("api", "gis"))
                 for n in names if n.startswith("_") and not n.startswith("__")]
    assert offenders == []


@pytest.mark.parametrize("fact, pattern", [
    ("亩 per m²", "666.6"),
    ("亩 per m² (as a fraction)", "10_000.0 / 15"),
    ("the township roles", "Role.INSPECTOR, Role.TOWNSHIP_OFFICER"),
    ("the palette", "#e31a1c"),
    ("the field names of a delivery", '"PZRQ"'),
    ("the 八不准 names", "占用永久基本农田建房"),
])
def test_each_fact_has_one_home(fact, pattern):
    homes = [str(p.relative_to(ROOT)) for folder in ("api", "gis", "field_app")
             for p in (ROOT / folder).rglob("*") if p.suffix in (".py", ".js", ".html") and "vendor" not in p.parts
             and pattern in p.read_text()]
    assert len(homes) <= 1, f"{fact} spelled in {homes}"
