"""Every label the pages' scripts ask for by a literal kind (and code) has its home in `/api/config`, in
Chinese and English: a kind or code the server does not send would show users a bare code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import field_app
from api.http.config import labels

ROOTS = (Path(__file__).resolve().parents[2] / "api" / "http" / "static" / "js",
         Path(field_app.__file__).resolve().parent / "static" / "js")
LITERAL = re.compile(r'\blabel\("([a-z_]+)"(?:,\s*"([a-z_0-9]+)")?')


def _asked_for() -> list[tuple[str, str, str | None]]:
    """(script, kind, code or None) for each `label("kind"[, "code"])` written in the pages' own scripts."""
    found = []
    for root in ROOTS:
        for script in sorted(root.rglob("*.js")):
            if "vendor" in script.parts:
                continue
            found += [(script.name, kind, code) for kind, code in LITERAL.findall(script.read_text())]
    return [(name, kind, code or None) for name, kind, code in found]


def test_the_scripts_ask_for_labels():
    asked = _asked_for()
    assert len(asked) > 20 and ("app.js", "photo_state", "being_checked") in asked


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_label_a_script_asks_for_is_sent(lang: str):
    sent = labels(lang)
    missing = [(name, kind, code) for name, kind, code in _asked_for()
               if kind not in sent or (code is not None and code not in sent[kind])]
    assert missing == []
