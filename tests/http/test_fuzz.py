"""Schemathesis over the whole OpenAPI, authenticated, on both databases: no input the schema admits — and
none it does not — may produce a server error. Bounded examples per operation keep CI fast; the figures
are written to test-artifacts/fuzz-<backend>.json for the record."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.generation import GenerationMode

from tests.conftest import ARTIFACTS
from tests.http.conftest import Site

#: Examples per operation and mode: enough to try every parameter's edges, few enough for a CI minute.
EXAMPLES = {GenerationMode.POSITIVE: 10, GenerationMode.NEGATIVE: 10}
#: Operations whose valid requests start real background work (a month's export): tried with invalid
#: input only; their valid path is covered by the export tests.
NEGATIVE_ONLY = {("POST", "/api/exports")}
#: Operations that end the caller's session: would log the fuzzer out mid-run.
SKIPPED = {("POST", "/api/auth/logout")}


def _fuzzer(strategy: Any, label: str, headers: dict[str, str], statuses: Counter[int], errors: list[str],
            examples: int) -> Callable[[], None]:
    """A Hypothesis test over one operation's generated requests, recording every answer's status."""

    @given(case=strategy)
    @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    def call(case: schemathesis.Case) -> None:
        response = case.call(headers={**(case.headers or {}), **headers})
        statuses[response.status_code] += 1
        if response.status_code >= 500:
            errors.append(f"{label} {case.formatted_path}: {response.status_code} {response.text[:200]}")

    return call  # type: ignore[no-any-return]


def test_no_request_produces_a_server_error(site: Site):
    schema = schemathesis.openapi.from_asgi("/openapi.json", site.client.app)
    headers = site.as_user("admin")
    statuses: Counter[int] = Counter()
    errors: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        key = (operation.method.upper(), operation.path)
        if key in SKIPPED:
            continue
        for mode, examples in EXAMPLES.items():
            if key in NEGATIVE_ONLY and mode is GenerationMode.POSITIVE:
                continue

            call = _fuzzer(operation.as_strategy(generation_mode=mode), f"{key[0]} {mode.value}", headers,
                           statuses, errors, examples)
            try:
                call()
            except Unsatisfiable:  # nothing about this operation can be made invalid (no parameters)
                assert mode is GenerationMode.NEGATIVE
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / f"fuzz-{site.db.backend}.json").write_text(json.dumps(
        {"requests": sum(statuses.values()), "statuses": dict(sorted(statuses.items())), "server_errors": errors},
        indent=1))
    assert sum(statuses.values()) > 100
    assert not errors, errors[:10]
    assert all(status < 500 for status in statuses), statuses


@pytest.mark.parametrize("path", ["/api/cases?limit=0", "/api/cases?bbox=1,2,3", "/api/layers/x?bbox=a,b,c,d"])
def test_the_fuzzer_would_see_a_refusal_not_an_error(site: Site, path: str):
    """A few of the shapes the fuzzer tries, pinned as plain tests (422/404 with a message)."""
    r = site.client.get(path, headers=site.as_user("admin"))
    assert r.status_code in (404, 422) and r.json()["error"]["message"]
