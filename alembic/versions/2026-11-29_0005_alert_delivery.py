"""alert rules with hysteresis, escalation, signed webhooks and the delivery worker

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 22:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from alembic.operations import BatchOperations
from sqlalchemy.dialects import postgresql

JSON_TYPE = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_KINDS = ("opened", "escalated", "deescalated", "acknowledged", "resolved")
NEW_KINDS = (*OLD_KINDS, "reopened", "tier_escalated", "reminded")


def _kind_enum(values: tuple[str, ...]) -> sa.Enum:
    return sa.Enum(*values, name="kind", native_enum=False, create_constraint=True, length=32)


def _open_index(batch_op: BatchOperations) -> None:
    batch_op.create_index(
        "uq_alerts_open_dedup_key",
        ["dedup_key"],
        unique=True,
        sqlite_where=sa.text("state <> 'resolved'"),
        postgresql_where=sa.text("state <> 'resolved'"),
    )


def upgrade() -> None:
    # The partial unique index is dropped and rebuilt around the batch so SQLite's table copy
    # cannot lose its WHERE clause.
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index("uq_alerts_open_dedup_key")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.alter_column("country_iso3", existing_type=sa.String(3), nullable=True)
        batch_op.alter_column("opened_score_run_id", existing_type=sa.Integer(), nullable=True)
        batch_op.alter_column("latest_score_id", existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(sa.Column("subject", sa.String(64), nullable=False, server_default=""))
        batch_op.add_column(
            sa.Column("rule_kind", sa.String(32), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("operational", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("resolved_by", sa.String(128), nullable=True))
        batch_op.add_column(sa.Column("resolution_note", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column("escalation", JSON_TYPE, nullable=False, server_default=sa.text("'{}'"))
        )
        batch_op.add_column(
            sa.Column("escalation_step", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("reminders_sent", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("next_escalation_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.create_index(
            batch_op.f("ix_alerts_next_escalation_at"), ["next_escalation_at"], unique=False
        )
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        _open_index(batch_op)

    with op.batch_alter_table("alert_events", schema=None) as batch_op:
        batch_op.alter_column(
            "kind",
            existing_type=_kind_enum(OLD_KINDS),
            type_=_kind_enum(NEW_KINDS),
            existing_nullable=False,
        )

    op.create_table(
        "alert_rule_states",
        sa.Column("dedup_key", sa.String(128), nullable=False),
        sa.Column("rule_id", sa.String(64), nullable=False),
        sa.Column("enter_streak", sa.Integer(), nullable=False),
        sa.Column("exit_streak", sa.Integer(), nullable=False),
        sa.Column("last_value", sa.Float(), nullable=True),
        sa.Column("last_resolved_on", sa.Date(), nullable=True),
        sa.Column("last_alert_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("dedup_key", name=op.f("pk_alert_rule_states")),
    )

    with op.batch_alter_table("focal_points", schema=None) as batch_op:
        batch_op.add_column(sa.Column("escalation_tier", sa.String(32), nullable=True))
        batch_op.add_column(sa.Column("region", sa.String(64), nullable=True))
        batch_op.add_column(
            sa.Column("is_administrator", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("webhook_secret", sa.String(128), nullable=True))
        batch_op.add_column(sa.Column("webhook_secret_previous", sa.String(128), nullable=True))
        batch_op.add_column(
            sa.Column("webhook_previous_expires_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column(
                "webhook_consecutive_failures", sa.Integer(), nullable=False, server_default="0"
            )
        )
        batch_op.add_column(
            sa.Column("webhook_disabled_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("webhook_disabled_reason", sa.Text(), nullable=True))

    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("region", sa.String(64), nullable=True))
        batch_op.add_column(sa.Column("rule_kinds", JSON_TYPE, nullable=True))

    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.alter_column("alert_id", existing_type=sa.Integer(), nullable=True)
        batch_op.alter_column("alert_event_id", existing_type=sa.Integer(), nullable=True)
        batch_op.alter_column("subscription_id", existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(
            sa.Column("purpose", sa.String(16), nullable=False, server_default="alert")
        )
        batch_op.add_column(sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))

    op.create_table(
        "delivery_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("outbox_message_id", sa.Integer(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("duration_ms", sa.Float(), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["outbox_message_id"],
            ["outbox_messages.id"],
            name=op.f("fk_delivery_attempts_outbox_message_id_outbox_messages"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delivery_attempts")),
    )
    with op.batch_alter_table("delivery_attempts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_delivery_attempts_outbox_message_id"), ["outbox_message_id"]
        )


def downgrade() -> None:
    op.drop_table("delivery_attempts")
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.drop_column("lease_until")
        batch_op.drop_column("purpose")
        batch_op.alter_column("subscription_id", existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column("alert_event_id", existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column("alert_id", existing_type=sa.Integer(), nullable=False)
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.drop_column("rule_kinds")
        batch_op.drop_column("region")
    with op.batch_alter_table("focal_points", schema=None) as batch_op:
        for column in (
            "webhook_disabled_reason",
            "webhook_disabled_at",
            "webhook_consecutive_failures",
            "webhook_previous_expires_at",
            "webhook_secret_previous",
            "webhook_secret",
            "is_administrator",
            "region",
            "escalation_tier",
        ):
            batch_op.drop_column(column)
    op.drop_table("alert_rule_states")
    with op.batch_alter_table("alert_events", schema=None) as batch_op:
        batch_op.alter_column(
            "kind",
            existing_type=_kind_enum(NEW_KINDS),
            type_=_kind_enum(OLD_KINDS),
            existing_nullable=False,
        )
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index("uq_alerts_open_dedup_key")
        batch_op.drop_index(batch_op.f("ix_alerts_next_escalation_at"))
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        for column in (
            "next_escalation_at",
            "reminders_sent",
            "escalation_step",
            "escalation",
            "resolution_note",
            "resolved_by",
            "operational",
            "rule_kind",
            "subject",
        ):
            batch_op.drop_column(column)
        batch_op.alter_column("latest_score_id", existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column("opened_score_run_id", existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column("country_iso3", existing_type=sa.String(3), nullable=False)
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        _open_index(batch_op)
