"""Country-year files that arrive as bytes: downloaded from a URL, or zipped (V-Dem ships its
release as a zip). Both end in the format's own parser; the payload's digest is that of the bytes
as received, so an unchanged download or zip is recognised before anything is parsed twice.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Sequence
from dataclasses import replace
from typing import IO, Literal

from earlywarn.countries.service import CountryResolver
from earlywarn.ingest.coups import parse_coups
from earlywarn.ingest.epr import parse_epr
from earlywarn.ingest.errors import FileFormatError
from earlywarn.ingest.http import SourceHttp, redact_url
from earlywarn.ingest.pts import parse_pts
from earlywarn.ingest.schemas import LoadedPayload
from earlywarn.ingest.vdem import DEFAULT_START_YEAR, DEFAULT_VARIABLES, parse_vdem_stream

TableFormat = Literal["vdem", "pts", "epr", "coups"]
ZIP_MAGIC = b"PK\x03\x04"


def is_zip(content: bytes) -> bool:
    return content[:4] == ZIP_MAGIC


def open_csv_member(content: bytes, label: str) -> tuple[IO[bytes], str]:
    """The one CSV inside a zip (a stream) and its member name. A zip with no CSV, or with
    several and none of them the country-year file, is an error listing what it holds."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
    except zipfile.BadZipFile as exc:
        raise FileFormatError(f"{label}: not a readable zip file ({exc})") from exc
    members = [
        info.filename
        for info in archive.infolist()
        if info.filename.lower().endswith(".csv") and not info.filename.startswith("__MACOSX/")
    ]
    if len(members) > 1:
        # V-Dem zips carry the country-year file next to codebooks and other units.
        country_year = [
            name
            for name in members
            if "-CY-" in name.rsplit("/", 1)[-1] or "_CY_" in name.rsplit("/", 1)[-1]
        ]
        members = country_year if len(country_year) == 1 else members
    if len(members) != 1:
        listed = ", ".join(info.filename for info in archive.infolist()[:20]) or "nothing"
        raise FileFormatError(
            f"{label}: the zip must hold exactly one country-year CSV; it holds {listed}"
        )
    return archive.open(members[0]), members[0]


def parse_table_bytes(
    fmt: TableFormat,
    content: bytes,
    *,
    name: str,
    variables: Sequence[str] | None = None,
    start_year: int | None = None,
) -> LoadedPayload:
    """Parse a V-Dem, PTS, EPR or coups file given as bytes (plain CSV or a zip holding one)."""
    resolver = CountryResolver.default()
    label = {"vdem": "V-Dem file", "pts": "PTS file", "epr": "EPR file", "coups": "coups file"}[fmt]
    member = ""
    if is_zip(content):
        stream, member = open_csv_member(content, f"{label} {name}")
    else:
        stream = io.BytesIO(content)
    inner = f"{name}!{member}" if member else name
    with stream:
        if fmt == "vdem":
            payload = parse_vdem_stream(
                stream,
                name=inner,
                resolver=resolver,
                variables=variables or DEFAULT_VARIABLES,
                start_year=start_year if start_year is not None else DEFAULT_START_YEAR,
            )
        elif fmt == "pts":
            payload = parse_pts(stream.read(), name=inner, resolver=resolver)
        elif fmt == "coups":
            payload = parse_coups(stream.read(), name=inner, resolver=resolver)
        else:
            payload = parse_epr(stream.read(), name=inner, resolver=resolver, start_year=start_year)
    return replace(payload, content_digest=hashlib.sha256(content).hexdigest(), source_uri=name)


def fetch_table(
    http: SourceHttp,
    url: str,
    fmt: TableFormat,
    *,
    variables: Sequence[str] | None = None,
    start_year: int | None = None,
) -> LoadedPayload:
    """Download ``url`` (retried like every API call) and parse it; the body is archived."""
    response = http.get(url, "download")
    payload = parse_table_bytes(
        fmt,
        response.content,
        name=redact_url(url),
        variables=variables,
        start_year=start_year,
    )
    return replace(payload, raw=list(http.bodies))
