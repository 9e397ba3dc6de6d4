"""e-mail endpoints disabled after consecutive failures; re-queued deliveries in the audit trail

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29 23:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_KINDS = (
    "opened",
    "escalated",
    "deescalated",
    "acknowledged",
    "resolved",
    "reopened",
    "tier_escalated",
    "reminded",
)
NEW_KINDS = (*OLD_KINDS, "delivery_requeued")


def _kind_enum(values: tuple[str, ...]) -> sa.Enum:
    return sa.Enum(*values, name="kind", native_enum=False, create_constraint=True, length=32)


def upgrade() -> None:
    with op.batch_alter_table("focal_points", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "email_consecutive_failures", sa.Integer(), nullable=False, server_default="0"
            )
        )
        batch_op.add_column(sa.Column("email_disabled_at", sa.DateTime(timezone=True)))
        batch_op.add_column(sa.Column("email_disabled_reason", sa.Text(), nullable=True))
    with op.batch_alter_table("alert_events", schema=None) as batch_op:
        batch_op.alter_column(
            "kind",
            existing_type=_kind_enum(OLD_KINDS),
            type_=_kind_enum(NEW_KINDS),
            existing_nullable=False,
        )


def downgrade() -> None:
    # The audit trail is append-only: refuse rather than delete the rows the old CHECK forbids.
    bind = op.get_bind()
    requeued = bind.execute(
        sa.text("SELECT count(*) FROM alert_events WHERE kind = 'delivery_requeued'")
    ).scalar_one()
    if requeued:
        raise RuntimeError(
            f"{requeued} alert event(s) of kind 'delivery_requeued' exist; the audit trail is "
            "append-only, so this downgrade would have to delete them. Export them first."
        )
    with op.batch_alter_table("alert_events", schema=None) as batch_op:
        batch_op.alter_column(
            "kind",
            existing_type=_kind_enum(NEW_KINDS),
            type_=_kind_enum(OLD_KINDS),
            existing_nullable=False,
        )
    with op.batch_alter_table("focal_points", schema=None) as batch_op:
        for column in ("email_disabled_reason", "email_disabled_at", "email_consecutive_failures"):
            batch_op.drop_column(column)
