"""The UN Treaty Collection connector (treaty participation, Framework indicator 3.1).

No UNTC payload was ever recorded: the files under ``data/untc`` were CONSTRUCTED FROM THE
DOCUMENTED LAYOUT of the MTDSG XML export (see ``data/untc/SOURCES.md``), not recorded. The
tests below also change them to the shapes a changed or broken site would send.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from earlywarn.framework.config_schemas import IndicatorsConfig
from earlywarn.framework.sources_schemas import UntcSourceConfig
from earlywarn.ingest.connectors import ConnectorContext
from earlywarn.ingest.errors import IngestError, RemoteSourceError
from earlywarn.ingest.schemas import LoadedPayload
from earlywarn.ingest.service import ingest_source
from earlywarn.ingest.untc import TREATIES, UntcConnector
from earlywarn.observations.models import Observation, RunStatus
from earlywarn.settings import Settings

DATA = Path(__file__).resolve().parent / "data" / "untc"
BASE = "https://untc.test"
SETTINGS = Settings(untc_base_url=BASE, http_max_attempts=2)
NOW = datetime(2025, 7, 1, tzinfo=UTC)
CONFIG = UntcSourceConfig(start_year=1990)
KNOWN = frozenset(
    {"AFG", "BOL", "CHN", "CIV", "CUB", "CZE", "DEU", "IND", "NLD", "PAK", "SDN", "GBR", "USA"}
    | {"CAN", "COL", "FRA", "JAM", "RUS", "LKA", "BDI", "SAU"}
)
Handler = Callable[[httpx.Request], httpx.Response]


def payload(mtdsg_no: str) -> bytes:
    return (DATA / f"{mtdsg_no}.en.xml").read_bytes()


class FakeUntc:
    """Serves the constructed exports by path; ``change`` rewrites one treaty's body."""

    def __init__(self, change: dict[str, Callable[[bytes], bytes]] | None = None) -> None:
        self.change = change or {}
        self.paths: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path)
        for treaty in TREATIES.values():
            if request.url.path == treaty.path:
                body = payload(treaty.mtdsg_no)
                body = self.change.get(treaty.mtdsg_no, lambda b: b)(body)
                return httpx.Response(200, content=body, headers={"Content-Type": "text/xml"})
        return httpx.Response(404, text="not found")


def fetch(
    handler: Handler, known: frozenset[str] = KNOWN, progress: list[str] | None = None
) -> LoadedPayload:
    context = ConnectorContext(
        settings=SETTINGS,
        indicators=IndicatorsConfig(indicators=[]),
        now=NOW,
        known_iso3s=known,
        source_config=CONFIG,
        sleep=lambda seconds: None,
        progress=None if progress is None else progress.append,
    )
    with httpx.Client(base_url=BASE, transport=httpx.MockTransport(handler)) as client:
        return UntcConnector().fetch(context, client)


def values(loaded: LoadedPayload) -> dict[tuple[str, str, str], float]:
    return {(r.iso3, r.variable, r.period): r.value for r in loaded.records}


def test_party_by_the_end_of_each_year_for_every_country() -> None:
    fake = FakeUntc()
    got = values(fetch(fake))
    assert sorted(fake.paths) == sorted(
        f"/doc/Publication/MTDSG/Volume {t.volume}/Chapter {t.chapter}/{t.mtdsg_no}.en.xml"
        for t in TREATIES.values()
    )
    iccpr, op1 = "untc.iccpr_party", "untc.iccpr_op1_party"
    # Ratified 8 Jun 1992: a party by the end of 1992, not of 1991.
    assert (got[("USA", iccpr, "1991")], got[("USA", iccpr, "1992")]) == (0.0, 1.0)
    assert got[("USA", op1, "2025")] == 0.0  # ICCPR, never the Optional Protocol
    assert got[("IND", iccpr, "1990")] == 1.0
    assert got[("CHN", iccpr, "2025")] == 0.0  # signed in 1998, never ratified
    assert got[("PAK", iccpr, "2009")] == 0.0
    assert got[("PAK", iccpr, "2010")] == 1.0
    # Footnoted and UN-style names, succession (d), a latin-1 name.
    assert got[("BOL", iccpr, "1990")] == 1.0
    assert got[("NLD", iccpr, "2000")] == 1.0
    assert got[("DEU", iccpr, "1995")] == 1.0
    assert (got[("CZE", iccpr, "1992")], got[("CZE", iccpr, "1993")]) == (0.0, 1.0)
    assert got[("CIV", iccpr, "1992")] == 1.0
    # Absent from a table: not a party, every year.
    assert {got[("SAU", v, "2025")] for v in (iccpr, op1, "untc.cat_party")} == {0.0}
    assert got[("SDN", "untc.cat_party", "2020")] == 0.0
    assert got[("SDN", "untc.cat_party", "2021")] == 1.0
    assert got[("NLD", "untc.rome_statute_party", "2001")] == 1.0  # acceptance (A)
    assert got[("USA", "untc.rome_statute_party", "2025")] == 0.0  # signature only
    years = 2025 - 1990 + 1
    assert len(got) == len(TREATIES) * (len(KNOWN) * years) - 2 * (years - 1)


def test_withdrawn_parties_are_not_parties_now_and_unknown_before() -> None:
    loaded = fetch(FakeUntc())
    got = values(loaded)
    assert got[("JAM", "untc.iccpr_op1_party", "2025")] == 0.0
    assert ("JAM", "untc.iccpr_op1_party", "1990") not in got  # denounced 1997, date unread
    assert got[("BDI", "untc.rome_statute_party", "2025")] == 0.0
    assert ("BDI", "untc.rome_statute_party", "2010") not in got
    assert loaded.details["iccpr_op1"]["withdrawn"] == {"JAM": "Jamaica"}
    assert loaded.details["rome_statute"]["withdrawn"] == {"BDI": "Burundi"}
    assert loaded.details["iccpr"]["parties"] == 11
    assert loaded.details["iccpr"]["signed_not_party"] == 2


def test_unknown_names_and_countries_outside_the_table_are_reported() -> None:
    def add_rows(body: bytes) -> bytes:
        extra = (
            b"<Row><Entry>Atlantis</Entry><Entry></Entry><Entry>1 Jan\t 2001 a</Entry></Row>"
            b"<Row><Entry>Kenya2, 3</Entry><Entry></Entry><Entry>1 May\t 1972 a</Entry></Row>"
        )
        return body.replace(b"</Rows>", extra + b"</Rows>")

    progress: list[str] = []
    loaded = fetch(FakeUntc({"IV-4": add_rows}), known=KNOWN | {"KEN"}, progress=progress)
    assert loaded.details["iccpr"]["unknown_participants"] == ["Atlantis"]
    assert "UNTC IV-4: 12 parties; names not matched: Atlantis" in progress
    assert values(loaded)[("KEN", "untc.iccpr_party", "1990")] == 1.0  # bare footnote digits
    assert loaded.rows_skipped >= 1
    without_gbr = fetch(FakeUntc(), known=KNOWN - {"GBR"})
    assert without_gbr.details["iccpr"]["iso3_not_in_countries_table"] == ["GBR"]
    assert not [r for r in without_gbr.records if r.iso3 == "GBR"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda b: b.replace(b"<Participants>", b"<Parts>").replace(
                b"</Participants>", b"</Parts>"
            ),
            "the layout changed: no Treaty/Participants",
        ),
        (
            lambda b: b.replace(b"Ratification, Accession(a), Succession(d)", b"Consent"),
            "no ratification/accession column",
        ),
        (
            lambda b: b.replace(b"<Entry>Participant</Entry>", b"<Entry>State</Entry>"),
            "first column is not 'Participant'",
        ),
        (
            lambda b: b.replace(b"<Entry>India</Entry><Entry></Entry>", b"<Entry>India</Entry>"),
            "has 2 entries for 3 columns",
        ),
        (lambda b: b.replace(b"8 Jun\t 1992", b"1992-06-08"), "is not a date"),
        (lambda b: b.replace(b"8 Jun\t 1992", b"31 Jun\t 1992"), "is not a calendar date"),
        (lambda b: b[: len(b) // 2], "not well-formed XML"),
        (
            lambda b: b"<!DOCTYPE html><html><body>Under maintenance</body></html>",
            "not the MTDSG XML export",
        ),
        (
            lambda b: b.replace(b"<Treaties>", b'<!DOCTYPE t [<!ENTITY x "y">]><Treaties>'),
            "declares a document type",
        ),
        (
            lambda b: b.replace(b"<Treaties>", b'<!DOCTYPE Treaties SYSTEM "t.dtd"><Treaties>'),
            "declares a document type",
        ),
        (
            lambda b: (
                b.split(b"<Tbody>")[0] + b"<Tbody><Rows></Rows></Tbody></TGroup></Table>"
                b"</Participants></Treaty></Treaties>"
            ),
            "the status table has no rows",
        ),
    ],
)
def test_a_changed_or_broken_export_fails_naming_the_cause(
    change: Callable[[bytes], bytes], message: str
) -> None:
    with pytest.raises(RemoteSourceError, match="IV-4") as caught:
        fetch(FakeUntc({"IV-4": change}))
    assert message in str(caught.value)


def test_an_empty_countries_table_is_refused() -> None:
    with pytest.raises(IngestError, match="countries table is empty"):
        fetch(FakeUntc(), known=frozenset())


def _ingest(session_factory: sessionmaker[Session], handler: Handler) -> RunStatus:
    with httpx.Client(base_url=BASE, transport=httpx.MockTransport(handler)) as client:
        run = ingest_source(
            session_factory,
            SETTINGS,
            IndicatorsConfig(indicators=[]),
            "untc",
            source_config=CONFIG,
            client=client,
            sleep=lambda s: None,
        )
    assert run.status is RunStatus.SUCCEEDED or run.error
    return run.status


def _stored(session_factory: sessionmaker[Session]) -> dict[tuple[str, str, str], float]:
    with session_factory() as session:
        return {
            (o.country_iso3, o.variable, o.period): o.value
            for o in session.scalars(select(Observation))
        }


def test_a_failed_run_keeps_the_earlier_data_on_both_backends(
    session_factory: sessionmaker[Session], countries: set[str]
) -> None:
    assert _ingest(session_factory, FakeUntc()) is RunStatus.SUCCEEDED
    before = _stored(session_factory)
    assert before[("USA", "untc.iccpr_party", "1992")] == 1.0
    assert before[("SAU", "untc.genocide_party", "2025")] == 0.0
    years = datetime.now(UTC).year - 1990 + 1  # the service runs at the real date
    assert len(before) == len(TREATIES) * len(countries) * years
    renamed = FakeUntc(
        {"XVIII-10": lambda b: b.replace(b"<Rows>", b"<Lines>").replace(b"</Rows>", b"</Lines>")}
    )
    assert _ingest(session_factory, renamed) is RunStatus.FAILED
    assert _stored(session_factory) == before
