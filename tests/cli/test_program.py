"""The installed `redline` program (`[project.scripts]`) is `api.cli.main`: the commands, and an exit that leaves
the heap frozen so the interpreter's last collections skip it (`api.cli.main`)."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_program_is_main():
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    assert scripts["redline"] == "api.cli:main"


def test_the_program_runs_a_command_and_exits_with_a_frozen_heap():
    # An exit hook registered before `main` runs after main's own (exit hooks run last in, first out).
    code = ("import atexit, gc, sys\n"
            "atexit.register(lambda: print('frozen objects:', gc.get_freeze_count(), file=sys.stderr))\n"
            "sys.argv = ['redline', 'check', '--help']\n"
            "from api.cli import main\n"
            "main()\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    assert "--farmland" in proc.stdout
    frozen = int(proc.stderr.rsplit("frozen objects:", 1)[1].split()[0])
    assert frozen > 10_000, "the heap left for the interpreter's exit was not frozen"
