"""The architecture the house style asks for, enforced: gis/ is pure; compose is valid."""

from __future__ import annotations

import ast
import json

import jsonschema
import yaml

from tests.conftest import ROOT

FORBIDDEN_IN_GIS = {"fastapi", "sqlalchemy", "geoalchemy2", "starlette", "uvicorn", "api", "psycopg", "alembic"}


def test_gis_imports_no_web_and_no_database():
    offenders = []
    for path in (ROOT / "gis").rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in FORBIDDEN_IN_GIS]
    assert offenders == []


def test_docker_compose_is_valid_against_the_compose_specification():
    schema = json.loads((ROOT / "tests" / "schemas" / "compose_spec.json").read_text())
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    jsonschema.validate(compose, schema)
    services = compose["services"]
    assert services["api"]["depends_on"]["db"]["condition"] == "service_healthy"
    assert services["api"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert "healthcheck" in services["db"]
    assert services["dask-worker"]["profiles"] == ["scale"]


def test_env_example_names_only_real_settings():
    from api.settings import Settings

    names = {line.split("=", 1)[0] for line in (ROOT / ".env.example").read_text().splitlines()
             if line and not line.startswith("#")}
    fields = {f"REDLINE_{n.upper()}" for n in Settings.model_fields}
    assert {n for n in names if n.startswith("REDLINE_")} <= fields
