"""The field app's service worker: a phone keeps the app shell it cached until the worker changes, so the worker
must change whenever any shell file does — or inspectors run an old app indefinitely."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

import field_app
from api.http.app import STATIC
from tests.http.conftest import Site

SHELL_NAME = re.compile(r'const SHELL = "(redline-field-v[0-9a-f]{16})"')


def test_the_served_worker_names_its_shell_after_the_shell_files_and_each_is_served(site: Site):
    r = site.client.get("/field/sw.js")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/javascript")
    assert r.headers["cache-control"] == "no-cache"
    assert SHELL_NAME.search(r.text) and field_app.SHELL_PLACEHOLDER not in r.text
    assert r.text == field_app.service_worker(STATIC)
    for path in field_app.shell_paths(r.text):  # a file the worker cannot fetch would break its install
        assert site.client.get(path).status_code == 200, path


def test_any_change_to_a_shell_file_renames_the_shell(tmp_path: Path):
    root, site_static = tmp_path / "field", tmp_path / "static"
    shutil.copytree(field_app.STATIC, root)
    shutil.copytree(STATIC, site_static)

    def name() -> str:
        found = SHELL_NAME.search(field_app.service_worker(site_static, root))
        assert found is not None
        return found.group(1)

    first = name()
    assert name() == first  # the same files, the same shell: phones keep what they have
    (root / "js" / "app.js").write_text((root / "js" / "app.js").read_text() + "\n// a fix\n")
    second = name()
    assert second != first
    (site_static / "js" / "common" / "dom.js").write_bytes((site_static / "js" / "common" / "dom.js").read_bytes()
                                                             + b"\n")
    assert name() not in (first, second)  # a shared module the app imports counts too
    (root / "index.html").unlink()
    with pytest.raises(FileNotFoundError):  # a missing shell file fails at start-up
        name()
