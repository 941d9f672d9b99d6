"""Resent submissions on a case: answered as the first send was, never applied twice.

The field app keeps every step, progress report and comment in its queue until an answer arrives, and sends it
again after a dropped connection — also when the first send was applied and only its answer was lost. Without
a key the resend filed a second report or comment, or was refused (the step was already taken) and shown to the
inspector as failed. A submission carrying the client's UUID is remembered in its own transaction
(`ClientRequest`): a resend by the same user asking the same thing gets the first send's record back; the key
used for anything else is a conflict, never silently applied.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from api.db.models import ClientRequest, User
from api.errors import Conflict, Message
from api.evidence.upload import canonical_uuid

#: What a key may stand for: the kinds of submission on a case.
KINDS = ("transition", "progress_report", "comment")


@dataclass(frozen=True)
class ResendKey:
    """A client's UUID for one submission on a case and a fingerprint of what it asked."""

    client_uuid: str
    kind: str
    case_id: int
    fingerprint: str


def resend_key(client_uuid: str | None, kind: str, case_id: int, asked: dict[str, Any]) -> ResendKey | None:
    """The key of a submission, or None when the client sent none (each send is then a new submission);
    422 naming `client_uuid` when it is not a UUID."""
    if client_uuid is None:
        return None
    assert kind in KINDS, kind
    text = json.dumps(asked, sort_keys=True, ensure_ascii=False, default=str)
    return ResendKey(canonical_uuid(str(client_uuid)), kind, case_id, hashlib.sha256(text.encode()).hexdigest())


def batch_case_key(client_uuid: str | None, case_id: int) -> str | None:
    """The key of one case's step in a batch keyed `client_uuid` (the desk's bulk assignment): a name-based UUID
    of the batch's and the case's, the same on every resend of the batch and different for each case."""
    if client_uuid is None:
        return None
    return str(uuid.uuid5(uuid.UUID(canonical_uuid(str(client_uuid))), f"case:{case_id}"))


def first_send(session: Session, user: User, key: ResendKey | None) -> ClientRequest | None:
    """The submission this key already made, or None; 409 when the key was made for something else (another
    user, case, kind or content) — a reused key is never taken as a resend."""
    if key is None:
        return None
    done = session.get(ClientRequest, key.client_uuid)
    if done is None:
        return None
    if (done.user_id, done.case_id, done.kind, done.fingerprint) != (user.id, key.case_id, key.kind,
                                                                      key.fingerprint):
        raise Conflict(Message(f"提交编号 {key.client_uuid} 已用于另一次提交",
                               f"client_uuid {key.client_uuid} was used for another submission"))
    return done


def first_send_committed(factory: sessionmaker[Session], user: User, key: ResendKey | None) -> ClientRequest | None:
    """After a clash with a concurrent transaction: did the same submission commit there (a resend racing its
    first send)? Then that one is the answer, not a conflict."""
    if key is None:
        return None
    with factory() as session:
        return first_send(session, user, key)


def remember(session: Session, user: User, key: ResendKey | None, at: dt.datetime,
             record_id: int | None = None) -> None:
    """Record the key in the submission's own transaction: both are written, or neither."""
    if key is not None:
        session.add(ClientRequest(client_uuid=key.client_uuid, user_id=user.id, case_id=key.case_id, kind=key.kind,
                                  fingerprint=key.fingerprint, record_id=record_id, at=at))
