"""outbox_message_alerts: one message per recipient, country and run carries several alerts

Revision ID: 0021
Revises: 0017
Create Date: 2026-12-05 01:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "outbox_message_alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("outbox_message_id", sa.Integer(), nullable=False),
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("alert_event_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["alert_event_id"], ["alert_events.id"]),
        sa.ForeignKeyConstraint(["alert_id"], ["alerts.id"]),
        sa.ForeignKeyConstraint(["outbox_message_id"], ["outbox_messages.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    for column in ("outbox_message_id", "alert_id", "alert_event_id"):
        op.create_index(
            op.f(f"ix_outbox_message_alerts_{column}"), "outbox_message_alerts", [column]
        )


def downgrade() -> None:
    for column in ("outbox_message_id", "alert_id", "alert_event_id"):
        op.drop_index(op.f(f"ix_outbox_message_alerts_{column}"), "outbox_message_alerts")
    op.drop_table("outbox_message_alerts")
