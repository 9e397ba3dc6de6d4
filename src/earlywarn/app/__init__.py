"""The composition root: the only package that knows every stage.

It wires them together: the pipeline (ingest -> score -> forecast -> alert -> notify), the
scheduler, the API app factory, the command line, the table registry and the migrations. No
stage package imports it.
"""

# Every stage's tables join ``earlywarn.db.Base.metadata`` as soon as anything of the root is
# imported: the metadata must be complete before it is used (Alembic autogenerate, the schema
# check in tests, framework's search for rows that still reference an indicator or heading).
from earlywarn.app import models_registry as models_registry
