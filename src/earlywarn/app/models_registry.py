"""Imports every stage's tables so that ``Base.metadata`` is complete (Alembic, tests)."""

from earlywarn.alerting import cap_tokens as alerting_cap_tokens
from earlywarn.alerting import models as alerting_models
from earlywarn.alerting import response_models as alerting_response_models
from earlywarn.app.cluster import models as cluster_models
from earlywarn.assessments import models as assessments_models
from earlywarn.auth import account_models as auth_account_models
from earlywarn.auth import models as auth_models
from earlywarn.countries import models as countries_models
from earlywarn.db import Base
from earlywarn.forecasting import models as forecasting_models
from earlywarn.framework import models as framework_models
from earlywarn.ingest import models as ingest_models
from earlywarn.notify import models as notify_models
from earlywarn.observations import models as observations_models
from earlywarn.scoring import models as scoring_models
from earlywarn.weights import models as weights_models

__all__ = [
    "Base",
    "alerting_cap_tokens",
    "alerting_models",
    "alerting_response_models",
    "assessments_models",
    "auth_account_models",
    "auth_models",
    "cluster_models",
    "countries_models",
    "forecasting_models",
    "framework_models",
    "ingest_models",
    "notify_models",
    "observations_models",
    "scoring_models",
    "weights_models",
]
