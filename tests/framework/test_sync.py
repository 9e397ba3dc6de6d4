"""sync_configuration mirrors config/ into the database, on SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import hashlib
import json

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from earlywarn.framework.config import Configuration
from earlywarn.framework.models import (
    ActionHeading,
    Indicator,
    RecommendedAction,
    RiskFactor,
    WeightSet,
)
from earlywarn.framework.service import sync_configuration
from earlywarn.types import Sphere


def _count(session: Session, model: type[object]) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def _yaml_row_count(config: Configuration) -> int:
    return sum(len(g.actions) for h in config.actions.headings for g in h.groups)


def _with_factor_weight(config: Configuration, factor: int, weight: float) -> Configuration:
    weights = {**config.scoring.factor_weights, factor: weight}
    return dataclasses.replace(
        config, scoring=config.scoring.model_copy(update={"factor_weights": weights})
    )


def test_first_sync_mirrors_everything(
    session_factory: sessionmaker[Session], configuration: Configuration
) -> None:
    with session_factory() as session:
        weight_set = sync_configuration(session, configuration, created_by="test")
        session.commit()
        weight_set_id = weight_set.id

    with session_factory() as session:
        assert _count(session, RiskFactor) == 14
        assert _count(session, Indicator) == len(configuration.indicators.indicators)
        assert _count(session, ActionHeading) == 25
        assert _count(session, RecommendedAction) == _yaml_row_count(configuration) == 188

        factor = session.get(RiskFactor, 11)
        assert factor is not None
        assert (factor.kind, factor.crime) == ("specific", "crimes_against_humanity")

        first = configuration.indicators.indicators[0]
        indicator = session.get(Indicator, first.id)
        assert indicator is not None
        assert indicator.definition == first.model_dump(mode="json")
        assert indicator.normalisation == first.normalisation.model_dump(mode="json")

        heading = session.get(ActionHeading, "4.3")
        assert heading is not None
        assert heading.sphere is Sphere.MULTILATERAL
        rows = session.scalars(
            select(RecommendedAction)
            .where(RecommendedAction.heading_code == "2.3")
            .order_by(RecommendedAction.position)
        ).all()
        assert [r.position for r in rows] == list(range(9))
        assert [r.for_imminent_risk for r in rows] == [False] * 4 + [True] * 5
        assert rows[0].text == configuration.heading("2.3").groups[0].actions[0]

        stored = session.get(WeightSet, weight_set_id)
        assert stored is not None
        assert (stored.version, stored.created_by) == (1, "test")
        assert stored.factor_weights["5"] == configuration.scoring.factor_weights[5]
        canonical = json.dumps(
            {
                "factor_weights": stored.factor_weights,
                "indicator_weights": stored.indicator_weights,
            },
            sort_keys=True,
            separators=(",", ":"),
        )
        assert stored.content_digest == hashlib.sha256(canonical.encode()).hexdigest()


def test_second_sync_changes_nothing(
    session_factory: sessionmaker[Session], configuration: Configuration
) -> None:
    with session_factory() as session:
        first = sync_configuration(session, configuration)
        session.commit()
        row_ids = set(session.scalars(select(RecommendedAction.id)))

    with session_factory() as session:
        again = sync_configuration(session, configuration)
        assert not session.dirty
        assert not session.new
        assert not session.deleted
        session.commit()
        assert (again.id, again.version) == (first.id, 1)
        assert _count(session, WeightSet) == 1
        assert set(session.scalars(select(RecommendedAction.id))) == row_ids
        assert _count(session, RecommendedAction) == _yaml_row_count(configuration)


def test_changed_weight_makes_version_2_and_back_reuses_version_1(
    session_factory: sessionmaker[Session], configuration: Configuration
) -> None:
    with session_factory() as session:
        v1 = sync_configuration(session, configuration)
        session.commit()
    with session_factory() as session:
        v2 = sync_configuration(session, _with_factor_weight(configuration, 9, 2.5))
        session.commit()
        assert v2.version == 2
        assert v2.content_digest != v1.content_digest
        assert v2.factor_weights["9"] == 2.5
    with session_factory() as session:
        back = sync_configuration(session, configuration)
        session.commit()
        assert (back.id, back.version) == (v1.id, 1)
        assert _count(session, WeightSet) == 2
        assert _count(session, RiskFactor) == 14


def test_changed_indicator_weight_also_makes_a_new_version(
    session_factory: sessionmaker[Session], configuration: Configuration
) -> None:
    first = configuration.indicators.indicators[0]
    changed = dataclasses.replace(
        configuration,
        indicators=configuration.indicators.model_copy(
            update={
                "indicators": [
                    first.model_copy(update={"weight": first.weight + 1}),
                    *configuration.indicators.indicators[1:],
                ]
            }
        ),
    )
    with session_factory() as session:
        sync_configuration(session, configuration)
        v2 = sync_configuration(session, changed)
        session.commit()
        assert v2.version == 2
        assert v2.indicator_weights[first.id] == first.weight + 1
        stored = session.get(Indicator, first.id)
        assert stored is not None
        assert stored.weight == first.weight + 1
        assert stored.definition["weight"] == first.weight + 1


def test_changed_rows_replace_only_that_headings_rows(
    session_factory: sessionmaker[Session], configuration: Configuration
) -> None:
    heading = configuration.heading("1.7")
    group = heading.groups[0]
    edited = heading.model_copy(
        update={
            "title": heading.title + " (revised)",
            "groups": [group.model_copy(update={"actions": [*group.actions, "A new row."]})],
        }
    )
    changed = dataclasses.replace(
        configuration,
        actions=configuration.actions.model_copy(
            update={
                "headings": [
                    edited if h.code == "1.7" else h for h in configuration.actions.headings
                ]
            }
        ),
    )
    with session_factory() as session:
        sync_configuration(session, configuration)
        session.commit()
        other_ids = set(
            session.scalars(
                select(RecommendedAction.id).where(RecommendedAction.heading_code != "1.7")
            )
        )
    with session_factory() as session:
        sync_configuration(session, changed)
        session.commit()
    with session_factory() as session:
        rows = session.scalars(
            select(RecommendedAction)
            .where(RecommendedAction.heading_code == "1.7")
            .order_by(RecommendedAction.position)
        ).all()
        assert [r.text for r in rows] == [*group.actions, "A new row."]
        assert _count(session, RecommendedAction) == _yaml_row_count(changed)
        kept = session.scalars(
            select(RecommendedAction.id).where(RecommendedAction.heading_code != "1.7")
        )
        assert set(kept) == other_ids
        stored = session.get(ActionHeading, "1.7")
        assert stored is not None
        assert stored.title.endswith("(revised)")


def test_removed_indicator_is_deleted_and_risk_factors_kept(
    session_factory: sessionmaker[Session], configuration: Configuration
) -> None:
    removed = configuration.indicators.indicators[-1]
    smaller = dataclasses.replace(
        configuration,
        indicators=configuration.indicators.model_copy(
            update={"indicators": configuration.indicators.indicators[:-1]}
        ),
    )
    with session_factory() as session:
        sync_configuration(session, configuration)
        session.commit()
    with session_factory() as session:
        sync_configuration(session, smaller)
        session.commit()
        assert session.get(Indicator, removed.id) is None
        assert _count(session, Indicator) == len(configuration.indicators.indicators) - 1
        assert _count(session, RiskFactor) == 14


def test_sync_does_not_commit(session: Session, configuration: Configuration) -> None:
    sync_configuration(session, configuration)
    session.rollback()
    assert _count(session, RiskFactor) == 0
    assert _count(session, WeightSet) == 0
