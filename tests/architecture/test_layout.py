"""The deployment's layout: docker-compose.yml is valid and .env.example names only real settings."""

from __future__ import annotations

import json

import jsonschema
import yaml

from tests.conftest import ROOT


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
