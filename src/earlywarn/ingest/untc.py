"""UN Treaty Collection (treaties.un.org): who is party to the core atrocity-prevention treaties
(Framework of Analysis indicator 3.1, "gaps in ratifying international human-rights treaties").

For each configured treaty the connector reads the status table of the Multilateral Treaties
Deposited with the Secretary-General (MTDSG) as its XML export,
``{base}/doc/Publication/MTDSG/Volume {I|II}/Chapter {roman}/{number}.en.xml``, and writes per
country and year, from ``start_year`` to the current year, ``untc.<treaty>_party``: 1 when the
country had ratified, acceded (a) or succeeded (d) by the end of that year, else 0. A country
absent from the table is not a party, so it gets 0 for every year; that is what lets the
indicator cover every country instead of only the parties.

The export's layout, each point handled on purpose (no recorded payload exists; the test
payloads are excerpts constructed from the documented layout):

- ``Treaty/Participants/Table/TGroup``: ``Thead/Row/Entry`` are the column headers
  ("Participant", "Signature", "Ratification, Accession(a), Succession(d)" or the treaty's own
  wording), ``Tbody/Rows/Row/Entry`` one participant each. A missing element, no participant or
  consent column, a row with another number of entries or a date that does not read fails the
  run naming the cause: a changed layout must not become a table of zeros.
- Participant names carry footnote markers, as ``<superscript>2</superscript>`` text or bare
  trailing digits ("Germany2, 3"); both are removed. Names are matched through the countries
  crosswalk; a name it does not hold is skipped and listed in ``details`` (never guessed).
- Dates read "10 Jun 1992", with tabs inside and the kind of act after them (a, d, A, AA).
- A participant between brackets has withdrawn (denounced); the date of the denunciation is in
  an end note this connector does not read, so such a country gets 0 for the current year only
  and nothing for the years before: those stay missing rather than guessed. Listed in
  ``details``.
- The body must be XML: an HTML page (the site's maintenance notice) or a document type
  declaration (entities) is refused before parsing.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from xml.etree import ElementTree

import httpx
from pydantic import BaseModel

from earlywarn.countries.service import CountryResolver
from earlywarn.framework.sources_schemas import UntcSourceConfig
from earlywarn.ingest.connectors import ConnectorContext, SourceDefinition
from earlywarn.ingest.errors import IngestError, RemoteSourceError
from earlywarn.ingest.http import SourceHttp, describe_body, make_client, redact_url
from earlywarn.ingest.schemas import LoadedPayload, ObservationRecord
from earlywarn.settings import Settings

LABEL = "UN Treaty Collection"
VARIABLE_PREFIX = "untc."
VARIABLE_SUFFIX = "_party"


@dataclass(frozen=True)
class Treaty:
    mtdsg_no: str
    volume: str
    chapter: str
    title: str

    @property
    def path(self) -> str:
        return (
            f"/doc/Publication/MTDSG/Volume {self.volume}/Chapter {self.chapter}/"
            f"{self.mtdsg_no}.en.xml"
        )


TREATIES: dict[str, Treaty] = {
    "iccpr": Treaty("IV-4", "I", "IV", "International Covenant on Civil and Political Rights"),
    "iccpr_op1": Treaty("IV-5", "I", "IV", "Optional Protocol to the ICCPR (first)"),
    "cat": Treaty("IV-9", "I", "IV", "Convention against Torture"),
    "genocide": Treaty(
        "IV-1", "I", "IV", "Convention on the Prevention and Punishment of the Crime of Genocide"
    ),
    "rome_statute": Treaty(
        "XVIII-10", "II", "XVIII", "Rome Statute of the International Criminal Court"
    ),
}
VARIABLES = tuple(VARIABLE_PREFIX + key + VARIABLE_SUFFIX for key in TREATIES)
MONTHS = {
    m: i
    for i, m in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"),
        start=1,
    )
}
DATE = re.compile(r"^(\d{1,2}) ([A-Za-z]{3})[a-z]*\.? (\d{4})(?: (a|d|A|AA|c))?$")
SUPERSCRIPT = re.compile(r"<superscript>.*?</superscript>", re.IGNORECASE | re.DOTALL)
TRAILING_NOTES = re.compile(r"[\d,\s]+$")
CONSENT_WORDS = ("ratification", "accession", "succession", "acceptance", "approval")
ROWS_PATH = "Participants/Table/TGroup/Tbody/Rows"
HEAD_PATH = "Participants/Table/TGroup/Thead/Row"


@dataclass
class _Table:
    """One treaty's parsed status table: the year each country became a party."""

    parties: dict[str, int] = field(default_factory=dict)
    withdrawn: dict[str, str] = field(default_factory=dict)
    unknown: list[str] = field(default_factory=list)
    not_in_table: list[str] = field(default_factory=list)
    rows: int = 0
    signed_only: int = 0


class UntcConnector:
    """The status tables of ``sources.yaml``'s treaties; no key needed."""

    source_id = "untc"
    definition = SourceDefinition(
        name="UN Treaty Collection, status of treaties (ICCPR and OP1, CAT, Genocide "
        "Convention, Rome Statute)",
        kind="api",
        url="https://treaties.un.org/Pages/ParticipationStatus.aspx",
        licence="UN public information; free to use with attribution (UN terms of use)",
    )

    def missing_settings(self, settings: Settings) -> list[str]:
        return []

    def open_client(self, settings: Settings) -> httpx.Client:
        return make_client(settings.untc_base_url, settings.http_timeout_seconds)

    def fetch(self, context: ConnectorContext, client: httpx.Client) -> LoadedPayload:
        config = _config(context.source_config)
        if not context.known_iso3s:
            raise IngestError(f"{LABEL}: the countries table is empty; run `earlywarn init-db`")
        first, last = config.start_year, context.now.year
        http = SourceHttp(
            client,
            LABEL,
            max_attempts=context.settings.http_max_attempts,
            sleep=context.sleep,
            bodies=context.received,
        )
        resolver = CountryResolver.default()
        records: list[ObservationRecord] = []
        details: dict[str, Any] = {"treaties": list(config.treaties), "years": [first, last]}
        skipped: Counter[str] = Counter()
        rows_read = 0
        for key in config.treaties:
            treaty = TREATIES[key]
            what = f"{key} ({treaty.mtdsg_no})"
            response = http.get(treaty.path, what)
            table = parse_status(response, f"{LABEL}, {what}", resolver, context.known_iso3s)
            unknown = f"; names not matched: {', '.join(table.unknown)}" if table.unknown else ""
            context.report(f"UNTC {treaty.mtdsg_no}: {len(table.parties)} parties{unknown}")
            records.extend(_records(key, table, context.known_iso3s, first, last))
            rows_read += table.rows
            skipped["unknown_participant"] += len(table.unknown)
            skipped["not_in_countries_table"] += len(table.not_in_table)
            details[key] = _treaty_details(table)
        base = str(client.base_url).rstrip("/")
        return LoadedPayload(
            records=records,
            content_digest=http.hexdigest(),
            source_uri=redact_url(f"{base}/doc/Publication/MTDSG/"),
            rows_read=rows_read,
            rows_skipped=sum(skipped.values()),
            details=details,
            raw=list(http.bodies),
        )


def _config(source_config: BaseModel | None) -> UntcSourceConfig:
    if isinstance(source_config, UntcSourceConfig):
        return source_config
    return UntcSourceConfig()


def _treaty_details(table: _Table) -> dict[str, Any]:
    found: dict[str, Any] = {"participants": table.rows, "parties": len(table.parties)}
    if table.signed_only:
        found["signed_not_party"] = table.signed_only
    if table.withdrawn:
        found["withdrawn"] = dict(sorted(table.withdrawn.items()))
    if table.unknown:
        found["unknown_participants"] = sorted(table.unknown)
    if table.not_in_table:
        found["iso3_not_in_countries_table"] = sorted(table.not_in_table)
    return found


def _records(
    key: str, table: _Table, countries: frozenset[str], first: int, last: int
) -> list[ObservationRecord]:
    variable = VARIABLE_PREFIX + key + VARIABLE_SUFFIX
    records = []
    for iso3 in sorted(countries):
        if iso3 in table.withdrawn:
            records.append(ObservationRecord.for_year(iso3, variable, last, 0.0))
            continue
        since = table.parties.get(iso3)
        for year in range(first, last + 1):
            party = since is not None and since <= year
            records.append(ObservationRecord.for_year(iso3, variable, year, float(party)))
    return records


def parse_status(
    response: httpx.Response, where: str, resolver: CountryResolver, known: frozenset[str]
) -> _Table:
    """The status table of one MTDSG XML export, or ``RemoteSourceError`` naming the cause."""
    treaty = _treaty_element(response, where)
    head = treaty.find(HEAD_PATH)
    body = treaty.find(ROWS_PATH)
    if head is None or body is None:
        raise RemoteSourceError(
            f"{where}: the layout changed: no Treaty/{HEAD_PATH} or Treaty/{ROWS_PATH}"
        )
    headers = [_text(entry) for entry in head.findall("Entry")]
    consent = _consent_column(headers, where)
    table = _Table()
    for number, row in enumerate(body.findall("Row"), start=1):
        entries = row.findall("Entry")
        if len(entries) != len(headers):
            raise RemoteSourceError(
                f"{where}: the layout changed: row {number} has {len(entries)} entries for "
                f"{len(headers)} columns {headers}"
            )
        table.rows += 1
        _take(
            table,
            _text(entries[0]),
            _text(entries[consent]),
            f"{where}, row {number}",
            resolver,
            known,
        )
    if table.rows == 0:
        raise RemoteSourceError(f"{where}: the layout changed: the status table has no rows")
    return table


def _treaty_element(response: httpx.Response, where: str) -> ElementTree.Element:
    head = response.content[:1024].lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html")) or not head.startswith(b"<"):
        raise RemoteSourceError(
            f"{where}: the answer is not the MTDSG XML export ({describe_body(response)}); "
            "the site may be under maintenance"
        )
    lowered = response.content.lower()
    if b"<!doctype" in lowered or b"<!entity" in lowered:
        # The export never declares a document type; entities in one could expand without end.
        raise RemoteSourceError(f"{where}: the XML declares a document type; refused")
    try:
        root = ElementTree.fromstring(response.content)
    except ElementTree.ParseError as exc:
        raise RemoteSourceError(
            f"{where}: the answer is not well-formed XML ({exc}); a truncated transfer looks "
            "like this"
        ) from None
    treaty = root if root.tag == "Treaty" else root.find("Treaty")
    if treaty is None:
        raise RemoteSourceError(
            f"{where}: the layout changed: no Treaty element under <{root.tag}>"
        )
    return treaty


def _consent_column(headers: list[str], where: str) -> int:
    if not headers or not headers[0].lower().startswith("participant"):
        raise RemoteSourceError(
            f"{where}: the layout changed: the first column is not 'Participant' ({headers})"
        )
    for position, header in enumerate(headers[1:], start=1):
        if any(word in header.lower() for word in CONSENT_WORDS):
            return position
    raise RemoteSourceError(
        f"{where}: the layout changed: no ratification/accession column among {headers}"
    )


def _text(entry: ElementTree.Element) -> str:
    """An entry's text without footnote markers, whether they came as elements or as text."""
    parts = [entry.text or ""]
    for child in entry:
        if child.tag.lower() not in ("superscript", "sup"):
            parts.append("".join(child.itertext()))
        parts.append(child.tail or "")
    return " ".join(SUPERSCRIPT.sub("", "".join(parts)).split())


def _take(
    table: _Table,
    name: str,
    consent: str,
    where: str,
    resolver: CountryResolver,
    known: frozenset[str],
) -> None:
    name = TRAILING_NOTES.sub("", name).strip()
    withdrawn = name.startswith("[")
    name = TRAILING_NOTES.sub("", name.strip("[] ")).strip()
    if not name:
        raise RemoteSourceError(f"{where}: the layout changed: a row without a participant")
    iso3 = resolver.from_name(name)
    if iso3 is None:
        table.unknown.append(name)
        return
    if iso3 not in known:
        table.not_in_table.append(iso3)
        return
    if withdrawn:
        table.withdrawn[iso3] = name
        return
    day = _date(consent, where)
    if day is None:
        table.signed_only += 1
        return
    earlier = table.parties.get(iso3)
    table.parties[iso3] = day.year if earlier is None else min(earlier, day.year)


def _date(text: str, where: str) -> date | None:
    """The day of the act in a consent entry, ``None`` when empty (signed, not yet bound)."""
    text = text.strip("[] ")
    if not text:
        return None
    match = DATE.match(text)
    month = MONTHS.get(match.group(2).lower()) if match else None
    if match is None or month is None:
        raise RemoteSourceError(f"{where}: {text!r} is not a date such as '10 Jun 1992 a'")
    try:
        return datetime(int(match.group(3)), month, int(match.group(1))).date()
    except ValueError:
        raise RemoteSourceError(f"{where}: {text!r} is not a calendar date") from None
