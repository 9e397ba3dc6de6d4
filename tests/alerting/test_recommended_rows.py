"""The rows an alert page offers for recording are exactly the rows ``record_action`` accepts."""

from __future__ import annotations

from earlywarn.alerting.models import Alert
from earlywarn.alerting.responses import recommended_row, recommended_rows
from earlywarn.framework.config import Configuration
from earlywarn.framework.service import recommend_actions
from earlywarn.types import RiskLevel


def test_every_offered_row_is_accepted_with_its_own_sphere_and_text(
    configuration: Configuration,
) -> None:
    actions = recommend_actions(
        configuration, [1, 5, 11], RiskLevel.EMERGENCY, imminent_reason="rule"
    )
    alert = Alert(actions=actions)
    rows = recommended_rows(configuration, alert)
    assert len(rows) == sum(len(h["actions"]) for hs in actions.values() for h in hs)
    assert len({r.code for r in rows}) == len(rows)
    assert any(r.imminent for r in rows)
    for row in rows:
        assert recommended_row(configuration, alert, row.code) == (row.sphere, row.text)
    # Only what the alert recommends: a calmer alert offers fewer rows, none imminent.
    calmer = Alert(actions=recommend_actions(configuration, [1], RiskLevel.CONCERN))
    fewer = recommended_rows(configuration, calmer)
    assert 0 < len(fewer) < len(rows)
    assert not any(r.imminent for r in fewer)
