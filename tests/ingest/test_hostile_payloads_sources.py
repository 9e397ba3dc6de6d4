"""Hostile payloads of the UNHCR and ReliefWeb connectors (tests/ingest/hostile_sources/,
documented in docs/ingest-hostile-payloads.md), through the whole ingest path.

As for the other API sources: each case first loads the source's good payload (an earlier
vintage), then serves the hostile body. A rejected body leaves a failed run naming the cause and
the earlier vintage intact; a tolerated one loads and says in ``details`` what it left out. The
file sources (V-Dem, PTS, EPR) have their broken-file cases in test_vdem/test_pts/test_epr and
test_file_sources (a failed file run keeps the earlier vintage).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from earlywarn.framework.schemas import IndicatorsConfig
from earlywarn.ingest.models import IngestRun, RunStatus
from earlywarn.ingest.schemas import ReliefWebSourceConfig, UnhcrSourceConfig
from earlywarn.ingest.service import ingest_source
from earlywarn.observations.models import Observation
from earlywarn.settings import Settings

CORPUS = Path(__file__).resolve().parent / "hostile_sources"
BASE = "https://hostile.test"
SETTINGS = Settings(
    unhcr_base_url=BASE,
    reliefweb_base_url=BASE,
    reliefweb_appname="earlywarn-test--123",
    http_max_attempts=2,
)
INDICATORS = IndicatorsConfig.model_validate({"indicators": []})
SOURCE_CONFIGS: dict[str, BaseModel] = {
    "unhcr": UnhcrSourceConfig(start_year=2022, end_year=2023),
    "reliefweb": ReliefWebSourceConfig(start_year=2024, end_year=2024),
}


@dataclass(frozen=True)
class Case:
    file: str
    content_type: str = "application/json"
    error: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def source(self) -> str:
        return self.file.split("_", 1)[0]


CASES = [
    Case("unhcr_html_page.html", "text/html", error="HTML/XML page"),
    Case("unhcr_truncated.json", error="not valid JSON"),
    Case("unhcr_empty_items.json", error="no rows at all"),
    Case("unhcr_error_body.json", error="no 'items' in the answer (keys: code, message)"),
    Case("unhcr_na_string.json", error="'NA' is not a number of people"),
    Case("unhcr_negative_count.json", error="-120 is not a plausible number of people"),
    Case("unhcr_absurd_count.json", error="1e+300 is not a plausible number of people"),
    Case("unhcr_unknown_origin.json", error="ZZZ (Atlantis)"),
    Case("unhcr_renamed_column.json", error="missing field(s) refugees"),
    Case("unhcr_asylum_breakdown.json", error="has an asylum country ('DEU')"),
    Case("unhcr_conflicting_duplicate.json", error="delivered twice with different values"),
    Case(
        "unhcr_placeholders.json",
        details={"skipped": {"not_applicable": 1, "null": 1, "origin_unknown_origin": 3}},
    ),
    Case("unhcr_duplicate_rows.json", details={"skipped": {"identical_duplicate": 3}}),
    Case("reliefweb_html_page.html", "text/html", error="HTML/XML page"),
    Case("reliefweb_error_body.json", error='answered with an error: Invalid "limit"'),
    Case("reliefweb_truncated_page.json", error="count 3 but holds 1 item(s)"),
    Case("reliefweb_missing_country.json", error="item 7: no 'country' field"),
    Case("reliefweb_unknown_country.json", error="no country of the countries table: ZZZ"),
    Case("reliefweb_bad_date.json", error="'13/07/2024' is not an ISO date"),
    Case(
        "reliefweb_world_and_repeats.json",
        details={"skipped": {"repeated_item": 1, "country_world": 1}},
    ),
]


def test_every_corpus_file_has_a_case() -> None:
    files = {path.name for path in CORPUS.iterdir()} - {
        f"{source}_good.json" for source in SOURCE_CONFIGS
    }
    assert files == {case.file for case in CASES}


def load(
    session_factory: sessionmaker[Session], source: str, body: bytes, content_type: str
) -> IngestRun:
    transport = httpx.MockTransport(
        lambda request: httpx.Response(200, content=body, headers={"Content-Type": content_type})
    )
    with httpx.Client(base_url=BASE, transport=transport) as client:
        return ingest_source(
            session_factory,
            SETTINGS,
            INDICATORS,
            source,
            source_config=SOURCE_CONFIGS[source],
            client=client,
            sleep=lambda seconds: None,
        )


def observation_rows(session_factory: sessionmaker[Session]) -> list[tuple[Any, ...]]:
    with session_factory() as session:
        return [
            tuple(row)
            for row in session.execute(
                select(
                    Observation.country_iso3,
                    Observation.variable,
                    Observation.period,
                    Observation.value,
                    Observation.ingest_run_id,
                ).order_by(Observation.id)
            )
        ]


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.file)
def test_hostile_payload(
    case: Case, session_factory: sessionmaker[Session], countries: set[str]
) -> None:
    good = load(
        session_factory,
        case.source,
        (CORPUS / f"{case.source}_good.json").read_bytes(),
        "application/json",
    )
    assert good.status == RunStatus.SUCCEEDED, good.error
    before = observation_rows(session_factory)
    assert before

    run = load(session_factory, case.source, (CORPUS / case.file).read_bytes(), case.content_type)

    if case.error is not None:
        assert run.status == RunStatus.FAILED
        assert run.error is not None
        assert case.error in run.error
        assert run.rows_loaded == 0
        assert observation_rows(session_factory) == before
    else:
        assert run.status in (RunStatus.SUCCEEDED, RunStatus.UNCHANGED), run.error
        for key, expected in case.details.items():
            assert run.details[key] == expected, (key, run.details)
        after = observation_rows(session_factory)
        assert after[: len(before)] == before
        with session_factory() as session:
            stored = session.scalar(
                select(func.count())
                .select_from(Observation)
                .where(Observation.ingest_run_id == run.id)
            )
        assert stored == run.rows_loaded
