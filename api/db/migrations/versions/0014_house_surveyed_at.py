"""When a survey last showed each house (`houses.surveyed_at`): the evidence a sham demolition is reopened on.

Houses are never deleted by an import, so a house missing from a new survey keeps its row. A scan reopened every
case whose demolition was recorded before the latest houses import of any kind — a new survey without the house,
another township's file, the same file again — because the old row still showed the house violating. Only a
survey that contains the house is evidence that it still stands.

Existing houses take the time of the latest houses import: what the scan compared with until now.

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("houses", sa.Column("surveyed_at", sa.DateTime(timezone=True)))
    op.execute("UPDATE houses SET surveyed_at = "
               "(SELECT max(finished_at) FROM import_runs WHERE import_runs.kind = 'houses')")


def downgrade() -> None:
    op.drop_column("houses", "surveyed_at")
