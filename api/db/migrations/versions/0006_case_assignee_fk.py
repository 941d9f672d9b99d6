"""The foreign key cases.assignee_id → users.id that 0002 left out (found by the schema drift test).

PostgreSQL gets the constraint. SQLite cannot add one to an existing table without rebuilding it, which
would drop SpatiaLite's geometry registration and spatial-index triggers; there the application's own check
(`api.cases.service._assignee`: the assignee must be an inspector of the case's township) stands alone.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

NAME = "fk_cases_assignee_id_users"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.create_foreign_key(NAME, "cases", "users", ["assignee_id"], ["id"])


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint(NAME, "cases", type_="foreignkey")
