"""webhook signing secrets encrypted at rest (Fernet tokens, longer than the plain secrets)

Revision ID: 0020
Revises: 0017
Create Date: 2026-12-05 01:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from earlywarn import encryption

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = ("webhook_secret", "webhook_secret_previous")
_PLAIN_PREFIX = "whsec_"  # every secret earlywarn ever made; a Fernet token starts "gAAAAA"


def _rewrite(*, forward: bool) -> None:
    focal_points = sa.table("focal_points", sa.column("id"), *(sa.column(c) for c in _COLUMNS))
    bind = op.get_bind()
    rows = bind.execute(sa.select(focal_points)).all()
    for row in rows:
        values: dict[str, str] = {}
        for column in _COLUMNS:
            value = getattr(row, column)
            if value is None:
                continue
            if forward and value.startswith(_PLAIN_PREFIX):
                # The key ring is set by the command that runs the migration (no rows: no key
                # needed); a server database without EARLYWARN_SECRET_KEYS stops here, clearly.
                values[column] = encryption.current().encrypt(value)
            elif not forward and not value.startswith(_PLAIN_PREFIX):
                values[column] = encryption.current().decrypt(value)
        if values:
            bind.execute(
                sa.update(focal_points).where(focal_points.c.id == row.id).values(**values)
            )


def upgrade() -> None:
    # SQLite does not enforce a VARCHAR length (and a batch rebuild of focal_points would trip
    # the foreign keys to it), so only PostgreSQL's columns change type.
    if op.get_bind().dialect.name == "postgresql":
        for column in _COLUMNS:
            op.alter_column("focal_points", column, type_=sa.Text(), existing_type=sa.String(128))
    _rewrite(forward=True)


def downgrade() -> None:
    _rewrite(forward=False)
    if op.get_bind().dialect.name == "postgresql":
        for column in _COLUMNS:
            op.alter_column("focal_points", column, type_=sa.String(128), existing_type=sa.Text())
