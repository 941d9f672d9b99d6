"""The small scanned county of the HTTP tests, for tests of what imports do to its cases."""

from tests.http.conftest import site  # noqa: F401  (a fixture)
