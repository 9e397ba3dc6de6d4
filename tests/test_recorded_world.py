"""A recorded world without the EWP file (issue 16, "Measured"): every country of the reference
list gets synthetic payloads true to each source's recorded format (the layouts of the
payloads in ../shared/fixtures: World Bank pages, UCDP GED pages, ACLED pages with every value a
string, UNHCR population pages, ReliefWeb lists, UN SDG series pages, V-Dem, PTS and EPR
CSVs; the UN Treaty Collection's XML exports in the layout of the constructed test payloads),
served to the connectors themselves on mock transports; then one full scheduled cycle runs
(ingest of every scheduled source, scoring, alerting) and the test reports the rated
countries, the mean coverage and, per factor, the countries with evidence.

Values are drawn from a seeded generator within each variable's real range, so the figures
measure which evidence reaches which factor, not any country's risk. Factors 12 and 14 have no
indicator; their evidence is analyst assessments, recorded by one analyst and approved by a
second (four-eyes) for every state, as a desk would. The figures are given with them and,
for comparison, as data alone. Run with ``-s`` to see the figures.
"""

from __future__ import annotations

import csv
import io
import json
import random
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

import httpx
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from earlywarn.app.pipeline import prepare_database, score_and_alert
from earlywarn.assessments import service as assessments_service
from earlywarn.assessments.schemas import AssessmentIn
from earlywarn.auth import service as auth_service
from earlywarn.countries.service import CountryRecord, CountryResolver
from earlywarn.db import session_scope
from earlywarn.framework.config import Configuration, load_configuration, load_sources_config
from earlywarn.framework.sources_schemas import FileSourceConfig, SourcesConfig
from earlywarn.ingest import vdem
from earlywarn.ingest.service import ingest_configured_sources
from earlywarn.observations.models import RunStatus
from earlywarn.scoring.coverage import coverage_report
from earlywarn.scoring.models import CountryScore
from earlywarn.settings import Settings
from earlywarn.types import Role

ROOT = Path(__file__).resolve().parent.parent
Handler = Callable[[httpx.Request], httpx.Response]
ASSESSMENT_FACTORS = (12, 14)
# Once EWP's columns, now read from UCDP (factors 2 and 11) and ACLED (factor 10).
MASS_KILLING_INDICATORS = (
    "past_mass_killing",
    "recent_mass_killing_onset",
    "ongoing_mass_killings",
    "wide_targeting",
    "narrow_targeting",
)
HOSTS = {
    "worldbank": "https://wb.world.test/v2",
    "ucdp": "https://ucdp.world.test/api",
    "acled": "https://acled.world.test",
    "unhcr": "https://unhcr.world.test/population/v1",
    "reliefweb": "https://reliefweb.world.test/v2",
    "sdg": "https://sdg.world.test/SDGAPI/v1",
    "untc": "https://untc.world.test",
}
# World Bank indicator -> plausible range of its values.
WB_RANGES: dict[str, tuple[float, float]] = {
    "SP.POP.TOTL": (3e5, 3e8),
    "NY.GDP.PCAP.KD.ZG": (-6.0, 8.0),
    "FP.CPI.TOTL.ZG": (0.0, 40.0),
    "SP.DYN.IMRT.IN": (2.0, 80.0),
    "NE.TRD.GNFS.ZS": (20.0, 150.0),
}


def _today() -> date:
    return datetime.now(UTC).date()


def _countries() -> list[CountryRecord]:
    return sorted(
        (r for r in CountryResolver.default().records.values() if not r.is_historical),
        key=lambda r: r.iso3,
    )


def _states(countries: list[CountryRecord]) -> list[CountryRecord]:
    """The ones with a Correlates-of-War / Gleditsch-Ward code: what V-Dem, PTS, EPR and UCDP
    code."""
    return [c for c in countries if c.cow_code is not None and c.gw_code is not None]


# --- API sources -------------------------------------------------------------------------------


def _worldbank(countries: list[CountryRecord], rng: random.Random) -> Handler:
    listing = [
        {
            "id": c.iso3,
            "iso2Code": c.iso2,
            "name": c.name,
            "region": {"id": "LCN", "iso2code": "ZJ", "value": "Latin America & Caribbean "},
            "incomeLevel": {"id": "UMC", "iso2code": "XT", "value": "Upper middle income"},
        }
        for c in countries
        if c.iso2
    ]

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/country"):
            page = int(request.url.params.get("page", "1"))
            meta = {"page": page, "pages": 1, "per_page": "500", "total": len(listing)}
            return httpx.Response(200, json=[meta, listing if page == 1 else []])
        code = request.url.path.rsplit("/", 1)[-1]
        low, high = WB_RANGES.get(code, (-2.5, 2.5) if code.endswith(".EST") else (0.5, 30.0))
        year = _today().year - 2
        rows = [
            {
                "indicator": {"id": code, "value": code},
                "country": {"id": c.iso2, "value": c.name},
                "countryiso3code": c.iso3,
                "date": str(y),
                "value": round(rng.uniform(low, high), 3),
                "unit": "",
                "obs_status": "",
                "decimal": 2,
            }
            for c in countries
            if c.iso2
            for y in (year - 1, year)
        ]
        meta = {
            "page": 1,
            "pages": 1,
            "per_page": len(rows),
            "total": len(rows),
            "sourceid": "2",
            "lastupdated": _today().isoformat(),
        }
        return httpx.Response(200, json=[meta, rows])

    return handler


def _untc(states: list[CountryRecord], rng: random.Random) -> Handler:
    """Each treaty's MTDSG XML export (the layout of tests/ingest/data/untc): about four states
    in five are parties since a year between 1966 and 2020, some only signed."""
    months = ("Jan", "Mar", "Jun", "Sep", "Dec")

    def export(path: str) -> bytes:
        rows = []
        for c in states:
            draw = rng.random()
            if draw > 0.9:
                continue  # neither signed nor party: absent from the table
            act = f"{rng.randint(1, 28)} {rng.choice(months)}\t {rng.randint(1966, 2020)}"
            consent = "" if draw > 0.8 else act + rng.choice(["", " a", " d"])
            name = escape(c.name) + (
                "&lt;superscript&gt;3&lt;/superscript&gt;" if draw < 0.05 else ""
            )
            rows.append(f"<Row><Entry>{name}</Entry><Entry></Entry><Entry>{consent}</Entry></Row>")
        head = "".join(
            f"<Entry>{h}</Entry>"
            for h in ("Participant", "Signature", "Ratification, Accession(a), Succession(d)")
        )
        return (
            '<?xml version="1.0" encoding="UTF-8"?><Treaties><Treaty><Participants><Table>'
            f'<TGroup cols="3"><Thead><Row>{head}</Row></Thead><Tbody><Rows>{"".join(rows)}'
            "</Rows></Tbody></TGroup></Table></Participants></Treaty></Treaties>"
        ).encode()

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path.startswith("/doc/Publication/MTDSG/")
        return httpx.Response(
            200, content=export(request.url.path), headers={"Content-Type": "text/xml"}
        )

    return handler


def _ucdp(states: list[CountryRecord], rng: random.Random) -> Handler:
    """GED events for one state in four: battles, one-sided and non-state violence, in the
    last year of the release (``UCDP_VERSION``)."""
    year = _today().year - 1
    events: list[dict[str, Any]] = []
    for n, c in enumerate(states[::4]):
        for k, violence in enumerate((1, 1, 2, 3)):
            best = rng.randint(5, 600)
            events.append(
                {
                    "id": 900_000 + 10 * n + k,
                    "relid": f"{c.iso3}-{year}-{violence}-{n}-{k}",
                    "year": year,
                    "active_year": True,
                    "code_status": "Clear",
                    "type_of_violence": violence,
                    # The killing side, as every GED record names it (mass-killing counts).
                    "side_a_new_id": 100 + n,
                    "side_a": f"Government of {c.name}",
                    "country": c.name,
                    "country_id": c.gw_code,
                    "best": best,
                    "high": best,
                    "low": best,
                    "deaths_a": 0,
                    "deaths_b": 0,
                    "deaths_civilians": best // 3,
                    "deaths_unknown": 0,
                    "date_start": f"{year}-06-01 00:00:00.000",
                    "date_end": f"{year}-06-02 00:00:00.000",
                }
            )

    def handler(request: httpx.Request) -> httpx.Response:
        start = request.url.params.get("StartDate", "")
        chunk = [e for e in events if start <= f"{e['year']}-06-01"]
        if request.url.params.get("EndDate", "9999") < f"{year}-06-01":
            chunk = []
        body = {
            "TotalCount": len(chunk),
            "TotalPages": 1,
            "PreviousPageUrl": "",
            "NextPageUrl": "",
            "Result": chunk,
        }
        return httpx.Response(200, json=body)

    return handler


def _acled_event(c: CountryRecord, n: int, day: date, kind: tuple[str, ...]) -> dict[str, str]:
    event_type, sub_event, actor2, assoc2, targeting = kind
    return {
        "event_id_cnty": f"{c.iso3}{n}",
        "event_date": day.isoformat(),
        "year": str(day.year),
        "time_precision": "1",
        "disorder_type": "Political violence",
        "event_type": event_type,
        "sub_event_type": sub_event,
        "actor1": f"Police Forces of {c.name}",
        "assoc_actor_1": "",
        "inter1": "1",
        "actor2": actor2,
        "assoc_actor_2": assoc2,
        "inter2": "7",
        "interaction": "17",
        "civilian_targeting": targeting,
        "iso": str(c.m49),
        "region": "",
        "country": c.name,
        "admin1": "",
        "admin2": "",
        "admin3": "",
        "location": "",
        "latitude": "0.0",
        "longitude": "0.0",
        "geo_precision": "1",
        "source": "",
        "source_scale": "National",
        "notes": "",
        "fatalities": str(n % 3),
        "tags": "",
        "timestamp": "1704833944",
    }


def _acled(countries: list[CountryRecord], rng: random.Random) -> Handler:
    """Events in each of the last two complete months and in three months of last year (a
    complete year) for every country with an M49 code."""
    kinds = [
        ("Protests", "Peaceful protest", "", "", ""),
        ("Protests", "Protest with intervention", "", "", ""),
        ("Protests", "Excessive force against protesters", "Protesters", "", ""),
        ("Battles", "Armed clash", "Rebels", "", ""),
        ("Violence against civilians", "Attack", "Civilians", "Journalists", "Civilian targeting"),
        ("Violence against civilians", "Attack", "Civilians", "Muslim Group", "Civilian targeting"),
        ("Violence against civilians", "Attack", "Civilians", "", "Civilian targeting"),
    ]
    first_of_this_month = _today().replace(day=1)
    months = [(first_of_this_month - timedelta(days=1)).replace(day=1)]
    months.append((months[0] - timedelta(days=1)).replace(day=1))
    last_year = _today().year - 1
    months += [date(last_year, m, 1) for m in (3, 7, 11) if date(last_year, m, 1) < months[-1]]
    events = []
    for c in countries:
        if c.m49 is None:
            continue
        for month in months:
            for n in range(rng.randint(1, 6)):
                kind = rng.choice(kinds)
                with_country = tuple(
                    f"{v} ({c.name})" if i in (2, 3) and v else v for i, v in enumerate(kind)
                )
                day = month.replace(day=1 + n)
                events.append(_acled_event(c, len(events), day, with_country))

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/token":
            assert parse_qs(request.content.decode())["client_id"] == ["acled"]
            token = {"token_type": "Bearer", "expires_in": 86400, "access_token": "t"}
            return httpx.Response(200, json={**token, "refresh_token": "r"})
        data = events if request.url.params["page"] == "1" else []
        return httpx.Response(200, json={"status": 200, "success": True, "data": data})

    return handler


def _unhcr(countries: list[CountryRecord], rng: random.Random) -> Handler:
    year = _today().year - 1
    items = [
        {
            "year": year,
            "coo_id": n,
            "coo_name": c.name,
            "coo": c.iso3,
            "coo_iso": c.iso3,
            "coa_id": "-",
            "coa_name": "-",
            "coa": "-",
            "coa_iso": "-",
            "refugees": rng.randint(0, 2_000_000),
            "asylum_seekers": rng.randint(0, 50_000),
            "returned_refugees": 0,
            "idps": rng.randint(0, 3_000_000),
            "returned_idps": "0",
            "stateless": "0",
            "ooc": 0,
            "oip": "-",
            "hst": "0",
        }
        for n, c in enumerate(countries)
    ]

    def handler(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["page"])
        body = {"page": page, "maxPages": 1, "total": {}, "items": items if page == 1 else []}
        return httpx.Response(200, json=body)

    return handler


def _reliefweb(countries: list[CountryRecord]) -> Handler:
    year = _today().year - 1
    data = [
        {
            "id": str(52_000 + n),
            "score": 1,
            "fields": {
                "country": [{"iso3": c.iso3.lower()}],
                "date": {"event": f"{year}-03-01T00:00:00+00:00"},
            },
        }
        for n, c in enumerate(countries[::5])
    ]

    def handler(request: httpx.Request) -> httpx.Response:
        offset = int(request.url.params.get("offset", "0"))
        page = data if offset == 0 else []
        body = {"time": 1, "totalCount": len(data), "count": len(page), "data": page}
        return httpx.Response(200, json=body)

    return handler


def _sdg(countries: list[CountryRecord], rng: random.Random) -> Handler:
    year = _today().year - 2

    def row(series: str, c: CountryRecord) -> dict[str, Any]:
        return {
            "goal": ["16"],
            "target": ["16.10"],
            "indicator": ["16.10.1"],
            "series": series,
            "seriesDescription": series,
            "seriesCount": "1",
            "geoAreaCode": str(c.m49),
            "geoAreaName": c.name,
            "timePeriodStart": float(year),
            # 16.a.1 (NHRI A status) is a yes/no flag; 16.10.1 series are counts.
            "value": str(rng.randint(0, 1 if series == "SG_NHR_IMPLN" else 12)),
            "valueType": "Float",
            "time_detail": None,
            "timeCoverage": None,
            "upperBound": None,
            "lowerBound": None,
            "basePeriod": None,
            "source": "OHCHR",
            "geoInfoUrl": None,
            "footnotes": [],
            "attributes": {"Nature": "C", "Units": "NUMBER"},
            "dimensions": {} if series == "SG_NHR_IMPLN" else {"Sex": "BOTHSEX"},
        }

    def handler(request: httpx.Request) -> httpx.Response:
        series = request.url.params["seriesCode"]
        page = int(request.url.params["page"])
        rows = [row(series, c) for c in countries if c.m49 is not None] if page == 1 else []
        body = {
            "size": len(rows),
            "totalElements": len(rows),
            "totalPages": 1,
            "pageNumber": page,
            "attributes": [],
            "dimensions": [],
            "data": rows,
        }
        return httpx.Response(200, json=body)

    return handler


# --- file sources ------------------------------------------------------------------------------

# The ordinal items' ranges (V-Dem codebook): the rest are 0-4.
ORDINAL_MAX = {"v2jureform_ord": 2, "v2clrgunev_ord": 2}


def _csv(header: list[str], rows: list[list[Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def _vdem_file(states: list[CountryRecord], rng: random.Random) -> str:
    """The full release's identity columns and every variable the connector reads."""
    columns = [*vdem.DEFAULT_VARIABLES, *vdem.OPTIONAL_VARIABLES]

    def value(column: str) -> float:
        if column.endswith("_ord"):
            return rng.randint(0, ORDINAL_MAX.get(column, 4))
        if column.startswith(("v2x_", "v2xcl_")):
            return round(rng.uniform(0.02, 0.98), 3)
        return round(rng.uniform(-3.0, 3.0), 3)

    year = _today().year - 1
    rows = [
        [c.name, c.iso3, n + 1, y, c.cow_code, *(value(col) for col in columns)]
        for n, c in enumerate(states)
        for y in (year - 1, year)
    ]
    return _csv(
        ["country_name", "country_text_id", "country_id", "year", "COWcode", *columns], rows
    )


def _pts_file(states: list[CountryRecord], rng: random.Random) -> str:
    header = "Country,Country_OLD,Year,COW_Code_A,COW_Code_N,WordBank_Code_A,UN_Code_N,Region,"
    header += "PTS_A,PTS_H,PTS_S,NA_Status_A,NA_Status_H,NA_Status_S"
    year = _today().year - 2
    rows = [
        [c.name, c.name, year, c.iso3, c.cow_code, c.iso3, c.m49 or "", "x"]
        + [rng.randint(1, 5) for _ in range(3)]
        + [0, 0, 0]
        for c in states
    ]
    return _csv(header.split(","), rows)


def _epr_file(states: list[CountryRecord], rng: random.Random) -> str:
    header = "gwid,statename,from,to,group,groupid,gwgroupid,umbrella,size,status,reg_aut"
    statuses = ["DOMINANT", "SENIOR PARTNER", "JUNIOR PARTNER", "POWERLESS", "DISCRIMINATED"]
    start = _today().year - 6
    rows = []
    for c in states:
        left = 0.95
        for g in range(3):
            size = round(rng.uniform(0.05, left / 2), 3)
            left -= size
            group = f"Group {g + 1}"
            status = statuses[0] if g == 0 else rng.choice(statuses[1:])
            gwgroupid = c.gw_code * 100_000 + g
            rows.append([c.gw_code, c.name, start, start + 5, group, g, gwgroupid, "", size])
            rows[-1] += [status, "false"]
    return _csv(header.split(","), rows)


def _coups_file(states: list[CountryRecord], rng: random.Random) -> str:
    """Powell & Thyne's tab-separated list: an attempt in one state in ten."""
    header = "country\tccode\tyear\tmonth\tday\tcoup\tccode_gw\tccode_polity\tversion"
    year = _today().year - 1
    rows = [
        "\t".join(
            str(v) for v in (c.name, c.cow_code, year - rng.randint(0, 8), 5, 1, rng.randint(1, 2))
        )
        + f"\t{c.gw_code}\t{c.cow_code}\tV{year}.12.01"
        for c in states[::10]
    ]
    return "\n".join([header, *rows]) + "\n"


# --- the cycle ---------------------------------------------------------------------------------


def _sources(tmp_path: Path, countries: list[CountryRecord], rng: random.Random) -> SourcesConfig:
    states = _states(countries)
    files = {"vdem": _vdem_file(states, rng), "pts": _pts_file(states, rng)}
    files["epr"] = _epr_file(states, rng)
    files["coups"] = _coups_file(states, rng)
    for name, text in files.items():
        (tmp_path / f"{name}.csv").write_text(text, encoding="utf-8")
    live = load_sources_config(ROOT / "config" / "sources.yaml")
    entries = {name: getattr(live, name) for name in live.api_sources()}
    # The yearly GED release of this year, covering last year (as a deployment would set it).
    assert live.ucdp is not None
    entries["ucdp"] = live.ucdp.model_copy(update={"version": f"{_today().year % 100}.1"})
    files = {name: FileSourceConfig(format=name, path=tmp_path / f"{name}.csv") for name in files}
    return SourcesConfig(**entries, files=files)


def _settings() -> Settings:
    return Settings(
        worldbank_base_url=HOSTS["worldbank"],
        ucdp_base_url=HOSTS["ucdp"],
        ucdp_token=SecretStr("token"),
        acled_base_url=HOSTS["acled"],
        acled_username="analyst@example.org",
        acled_password=SecretStr("pw"),
        unhcr_base_url=HOSTS["unhcr"],
        reliefweb_base_url=HOSTS["reliefweb"],
        reliefweb_appname="earlywarn-test",
        sdg_base_url=HOSTS["sdg"],
        untc_base_url=HOSTS["untc"],
    )


def _applicable(score: CountryScore) -> list[tuple[int, float]]:
    """(factor, coverage) of the factors that apply: 13 and 14 only in armed conflict."""
    summary = score.factor_summary
    in_conflict = summary["armed_conflict"] is True
    return [
        (number, coverage)
        for number, coverage in zip(summary["numbers"], summary["coverage"], strict=True)
        if number not in (13, 14) or in_conflict
    ]


def _factor_coverage(rated: list[CountryScore]) -> dict[int, list[float]]:
    out: dict[int, list[float]] = {}
    for score in rated:
        for number, coverage in _applicable(score):
            out.setdefault(number, []).append(coverage)
    return dict(sorted(out.items()))


def _mean_coverage(
    rated: list[CountryScore], weights: dict[int, float], *, leave_out: tuple[int, ...]
) -> float:
    """The engine's coverage (factor-weighted mean of the applicable factors' coverage)
    without the factors in ``leave_out``."""
    total = 0.0
    for score in rated:
        kept = [(weights[n], c) for n, c in _applicable(score) if n not in leave_out]
        total += sum(w * c for w, c in kept) / sum(w for w, _ in kept)
    return total / max(len(rated), 1)


def _assess(
    session_factory: sessionmaker[Session], config: Configuration, states: list[CountryRecord]
) -> int:
    """Factors 12 and 14 for every state: recorded by one analyst, approved by another."""
    rng = random.Random(1214)
    approved = 0
    with session_scope(session_factory) as session:
        author, reviewer = (
            auth_service.authenticate(
                session, auth_service.create_key(session, name=name, role=Role.ANALYST)[1]
            )
            for name in ("Desk analyst", "Reviewing analyst")
        )
        assert author is not None
        assert reviewer is not None
        for c in states:
            for factor in ASSESSMENT_FACTORS:
                body = AssessmentIn(
                    country_iso3=c.iso3,
                    risk_factor=factor,
                    level=rng.choice(["none", "low", "moderate", "high"]),
                    confidence="medium",
                    evidence=f"Desk review of factor {factor} for {c.name}: reports and briefings.",
                    valid_until=_today() + timedelta(days=180),
                )
                made = assessments_service.create(session, config.assessments, body, author)
                session.flush()
                assessments_service.approve(session, made.id, reviewer)
                approved += 1
    return approved


def run_world(
    session_factory: sessionmaker[Session],
    config: Configuration,
    tmp_path: Path,
    *,
    with_assessments: bool = True,
) -> dict[str, Any]:
    """Ingest every scheduled source of the recorded world, score and alert; the figures."""
    rng = random.Random(16)
    countries = _countries()
    states = {c.iso3 for c in _states(countries)}
    handlers: dict[str, Handler] = {
        "worldbank": _worldbank(countries, rng),
        "ucdp": _ucdp(_states(countries), rng),
        "acled": _acled(countries, rng),
        "unhcr": _unhcr(countries, rng),
        "reliefweb": _reliefweb(countries),
        "sdg": _sdg(countries, rng),
        "untc": _untc(_states(countries), rng),
    }
    sources = _sources(tmp_path, countries, rng)
    settings = _settings()
    weight_set_id = prepare_database(session_factory, config)
    runs = []
    for source_id, handler in handlers.items():
        transport = httpx.MockTransport(handler)
        with httpx.Client(base_url=HOSTS[source_id], transport=transport) as client:
            runs += ingest_configured_sources(
                session_factory,
                settings,
                config,
                sources=sources,
                trigger="test",
                client=client,
                only=source_id,
                sleep=lambda s: None,
            )
    runs += ingest_configured_sources(
        session_factory, settings, config, sources=sources, trigger="test", include_api=False
    )
    failed = {r.source_id: r.error for r in runs if r.status is not RunStatus.SUCCEEDED}
    assessed = _assess(session_factory, config, _states(countries)) if with_assessments else 0
    summary = score_and_alert(
        session_factory, config, weight_set_id=weight_set_id, settings=settings
    )
    with session_scope(session_factory) as session:
        scores = session.scalars(
            select(CountryScore).where(CountryScore.score_run_id == summary.score_run_id)
        ).all()
        report = coverage_report(session, config, sources, datetime.now(UTC), settings=settings)
        rated = [s for s in scores if s.composite is not None]
        by_factor = _factor_coverage(rated)
        weights = config.scoring.factor_weights
        return {
            "countries": len(countries),
            "states": len(_states(countries)),
            "sources_run": sorted(r.source_id for r in runs),
            "failed": failed,
            "rated": len(rated),
            "rated_states": len({s.country_iso3 for s in rated} & states),
            "approved_assessments": assessed,
            # As stored: factor 12 (no indicator) counts through its assessments only.
            "mean_coverage": sum(s.coverage for s in rated) / max(len(rated), 1),
            "mean_coverage_without_assessment_factors": _mean_coverage(
                rated, weights, leave_out=ASSESSMENT_FACTORS
            ),
            "factor_mean_coverage": {n: round(sum(v) / len(v), 3) for n, v in by_factor.items()},
            "evidence": {f.number: f.countries_with_evidence for f in report.factors},
            "applicable": {f.number: f.countries_applicable for f in report.factors},
            "mass_killing_indicators": _with_values(rated, MASS_KILLING_INDICATORS),
        }


def _with_values(rated: list[CountryScore], indicator_ids: tuple[str, ...]) -> dict[str, int]:
    """Per indicator, the rated countries where it had a value."""
    counts = dict.fromkeys(indicator_ids, 0)
    for score in rated:
        for factor in score.factors["factors"]:
            for entry in factor["indicators"]:
                if entry["indicator_id"] in counts and entry["contribution"] is not None:
                    counts[entry["indicator_id"]] += 1
    return counts


def test_recorded_world_without_ewp_rates_the_world(
    session_factory: sessionmaker[Session], tmp_path: Path
) -> None:
    config = load_configuration(ROOT / "config")
    figures = run_world(session_factory, config, tmp_path)
    sys.stdout.write(f"\nrecorded world, no EWP data: {json.dumps(figures, indent=1)}\n")
    assert figures["failed"] == {}
    assert not [s for s in figures["sources_run"] if s == "ewp"]
    assert figures["rated"] >= 160
    assert figures["rated_states"] >= 160
    assert figures["mean_coverage"] >= 0.7
    assert figures["mean_coverage_without_assessment_factors"] >= 0.7
    short = {number: n for number, n in figures["evidence"].items() if n < 150}
    assert short == {}, f"factors with evidence for fewer than 150 countries: {short}"
    # UCDP's GED pages cover one state in four; ACLED's every country.
    mass_killing = figures["mass_killing_indicators"]
    assert min(mass_killing.values()) >= 45, mass_killing
    assert mass_killing["narrow_targeting"] >= 150, mass_killing
