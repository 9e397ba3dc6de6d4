"""observations: drop the per-row source and country foreign keys (bulk-load speed)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 23:45:00

PostgreSQL checks a foreign key with one trigger query per inserted row; on a million-row
COPY the three checks on ``observations`` cost about two thirds of the server's time. The
source is already named by the run (``ingest_runs.source_id`` keeps its key, and so does
``observations.ingest_run_id``), and the one code path that writes observations
(``ingest.service``) refuses unknown ISO3 codes against the countries table in the same
transaction, before inserting. Countries are seeded, never deleted.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("observations", schema=None) as batch_op:
        batch_op.drop_constraint("fk_observations_source_id_sources", type_="foreignkey")
        batch_op.drop_constraint("fk_observations_country_iso3_countries", type_="foreignkey")


def downgrade() -> None:
    with op.batch_alter_table("observations", schema=None) as batch_op:
        batch_op.create_foreign_key(
            "fk_observations_country_iso3_countries", "countries", ["country_iso3"], ["iso3"]
        )
        batch_op.create_foreign_key(
            "fk_observations_source_id_sources", "sources", ["source_id"], ["id"]
        )
