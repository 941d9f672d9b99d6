"""A process that opened a SpatiaLite database and used pyproj ends cleanly.

mod_spatialite links the system's PROJ, pyproj bundles its own; SQLite loads an extension with RTLD_GLOBAL, so a
PROJ loaded after it bound its C++ globals to the system copy and both ran the same destructors at exit: every
such process — a `redline` command, a test run of one module — ended in "double free or corruption" or a
segmentation fault (exit 134 or 139) after doing its work. `make_engine` has pyproj's PROJ loaded first.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
from api.db.engine import make_engine
from sqlalchemy import text
engine = make_engine("sqlite:///{path}")
with engine.connect() as con:
    print(con.execute(text("SELECT AsText(ST_Transform(MakePoint(112, 25, 4326), 4546))")).scalar_one())
import pyproj
print(pyproj.Transformer.from_crs(4326, 4546, always_xy=True).transform(112, 25))
"""


def test_a_process_that_used_spatialite_and_pyproj_exits_cleanly(tmp_path: Path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SPATIALITE_LIBRARY_PATH": "mod_spatialite"}
    done = subprocess.run([sys.executable, "-c", SCRIPT.format(path=tmp_path / "x.sqlite")], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])
    assert done.stdout.count("600953.4") == 2  # both PROJs answered, and the same
