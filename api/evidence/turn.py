"""One photo at a time compared with the other cases' photos and recorded.

The same-file check (at the upload) and the near-duplicate check (after it, `api.evidence.pixels`) read the
other cases' photos and then record this one; a land photo's same-file check (`api.stewardship.abandoned`) reads
the other land records' photos the same way. Two photos of one house sent to two cases at the same moment
would each read before the other was recorded, and neither would be flagged: a photo passed off as evidence
for another house. Each check therefore reads and records inside one turn, taken for the whole database.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

#: The PostgreSQL advisory lock of that turn (any fixed 64-bit key no other lock in this database uses).
EVIDENCE_LOCK_KEY = 0x5245444C494E45  # "REDLINE"


def take_evidence_turn(session: Session) -> None:
    """Wait for the turn to compare photos; it is held until the session's transaction ends.

    PostgreSQL: a transaction-scoped advisory lock. SQLite: the database's write lock, taken now with a write
    that changes nothing (SQLite locks for writing when a write statement starts; the process's writers' turn,
    `api.db.engine`, is taken at the same statement), where otherwise it would be taken only at the insert,
    after the reads."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": EVIDENCE_LOCK_KEY})
    else:
        session.execute(text("UPDATE photos SET id = id WHERE 0"))
