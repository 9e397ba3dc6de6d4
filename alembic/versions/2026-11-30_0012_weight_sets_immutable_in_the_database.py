"""weight sets and their audit log immutable in the database (triggers)

Revision ID: 0012
Revises: 0010
Create Date: 2026-11-30 01:15:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A score points at the weight set it used, and the audit log is the record of who changed
# what: neither may change in place. The ORM guard (weights.models) stops the application; these
# triggers also stop a bulk UPDATE statement, a script or a console session. Deleting is left to
# foreign keys (a set a run used cannot be deleted) and to operators (test clean-up, retention).
_WEIGHT_SETS_MESSAGE = "weight sets are immutable: propose a new one"
_EVENTS_MESSAGE = "weight-set events are an append-only audit log"
_FROZEN = ("version", "content_digest", "indicator_weights", "factor_weights")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        changed = " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in _FROZEN)
        op.execute(
            """
            CREATE FUNCTION earlywarn_refuse_update() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION '%', TG_ARGV[0] USING ERRCODE = 'integrity_constraint_violation';
            END
            $$
            """
        )
        op.execute(
            f"""
            CREATE TRIGGER weight_sets_immutable BEFORE UPDATE ON weight_sets
            FOR EACH ROW WHEN ({changed})
            EXECUTE FUNCTION earlywarn_refuse_update('{_WEIGHT_SETS_MESSAGE}')
            """
        )
        op.execute(
            f"""
            CREATE TRIGGER weight_set_events_append_only BEFORE UPDATE ON weight_set_events
            FOR EACH ROW EXECUTE FUNCTION earlywarn_refuse_update('{_EVENTS_MESSAGE}')
            """
        )
        return
    # SQLite: IS NOT is its null-safe inequality.
    sqlite_changed = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in _FROZEN)
    op.execute(
        f"""
        CREATE TRIGGER weight_sets_immutable BEFORE UPDATE ON weight_sets
        FOR EACH ROW WHEN {sqlite_changed}
        BEGIN SELECT RAISE(ABORT, '{_WEIGHT_SETS_MESSAGE}'); END
        """
    )
    op.execute(
        f"""
        CREATE TRIGGER weight_set_events_append_only BEFORE UPDATE ON weight_set_events
        FOR EACH ROW BEGIN SELECT RAISE(ABORT, '{_EVENTS_MESSAGE}'); END
        """
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS weight_set_events_append_only ON weight_set_events")
        op.execute("DROP TRIGGER IF EXISTS weight_sets_immutable ON weight_sets")
        op.execute("DROP FUNCTION IF EXISTS earlywarn_refuse_update()")
        return
    op.execute("DROP TRIGGER IF EXISTS weight_set_events_append_only")
    op.execute("DROP TRIGGER IF EXISTS weight_sets_immutable")
