"""V-Dem parsing throughput on a synthetic release-shaped file (wide rows, few columns kept).

    .venv/bin/python benchmarks/vdem_parse.py [--rows N] [--columns N] [--repeat N] [--memory]

The real ``V-Dem-CY-Full+Others`` file has about 27,000 country-years and 4,600 columns (about
400 MB); the connector reads it as a stream and keeps 15 columns. This writes a file of the same
width with ``--rows`` rows (default 3,000, about 70 MB) of plausible cells, parses it from disk
and from a zip of it, and prints rows/s, MB/s, the time the full release would take at that
rate (and with ``--memory`` the peak Python memory of a parse), and a JSON line. The machine is
noisy: compare the plain and zipped figures of one run.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
import tracemalloc
import zipfile
from pathlib import Path
from typing import Any

from earlywarn.countries.reference import load_reference
from earlywarn.countries.service import CountryResolver
from earlywarn.ingest.files import parse_table_bytes
from earlywarn.ingest.vdem import DEFAULT_VARIABLES, load_vdem

FULL_RELEASE_ROWS = 27_000


def write_file(path: Path, rows: int, columns: int) -> None:
    rng = random.Random(7)
    countries = [
        (record.iso3, record.cow_code)
        for record in load_reference()
        if record.cow_code is not None and not record.is_historical
    ]
    filler = [f"v2x_filler_{i}" for i in range(columns - 6 - len(DEFAULT_VARIABLES))]
    header = [
        "country_name",
        "country_text_id",
        "country_id",
        "year",
        "historical_date",
        "COWcode",
        *DEFAULT_VARIABLES,
        *filler,
    ]
    with path.open("w", encoding="utf-8", newline="") as handle:
        handle.write(",".join(header) + "\n")
        for index in range(rows):
            iso3, cow = countries[index % len(countries)]
            year = 1960 + index // len(countries)
            cells = [
                iso3.title(),
                iso3,
                str(index % len(countries)),
                str(year),
                f"{year}-12-31",
                str(cow),
            ]
            cells += [f"{rng.uniform(-3, 3):.3f}" for _ in DEFAULT_VARIABLES]
            cells += ["" if rng.random() < 0.2 else f"{rng.random():.3f}" for _ in filler]
            handle.write(",".join(cells) + "\n")


def measure(
    label: str, parse: Any, size_bytes: int, rows: int, *, memory: bool, repeat: int
) -> dict[str, float]:
    # tracemalloc slows parsing several times over, so memory is a separate, optional pass.
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        payload = parse()
        timings.append(time.perf_counter() - started)
    seconds = min(timings)  # the least disturbed of the runs on a shared machine
    peak = 0
    if memory:
        tracemalloc.start()
        parse()
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    figures = {
        "seconds": round(seconds, 3),
        "rows_per_second": round(rows / seconds),
        "mb_per_second": round(size_bytes / 1e6 / seconds, 1),
        "peak_mb": round(peak / 1e6, 1),
        "values": len(payload.records),
        "full_release_seconds_estimate": round(FULL_RELEASE_ROWS / (rows / seconds), 1),
    }
    print(
        f"{label:>6}: {figures['seconds']} s, {figures['rows_per_second']} rows/s, "
        f"{figures['mb_per_second']} MB/s, peak {figures['peak_mb'] or '-'} MB, "
        f"{figures['values']} values; full release about "
        f"{figures['full_release_seconds_estimate']} s"
    )
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=3_000)
    parser.add_argument("--columns", type=int, default=4_600)
    parser.add_argument("--repeat", type=int, default=3, help="parses per variant; best kept")
    parser.add_argument(
        "--memory", action="store_true", help="also measure peak Python memory (slow)"
    )
    args = parser.parse_args()
    resolver = CountryResolver.default()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "V-Dem-CY-Full+Others-synthetic.csv"
        write_file(path, args.rows, args.columns)
        size = path.stat().st_size
        print(f"file: {args.rows} rows x {args.columns} columns, {size / 1e6:.1f} MB")
        plain = measure(
            "plain",
            lambda: load_vdem(path, resolver=resolver),
            size,
            args.rows,
            memory=args.memory,
            repeat=args.repeat,
        )
        zipped_path = Path(tmp) / "release.zip"
        with zipfile.ZipFile(zipped_path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.write(path, arcname="V-Dem-CY-Full+Others-synthetic.csv")
        content = zipped_path.read_bytes()
        zipped = measure(
            "zipped",
            lambda: parse_table_bytes("vdem", content, name=str(zipped_path)),
            size,
            args.rows,
            memory=args.memory,
            repeat=args.repeat,
        )
    result = {
        "rows": args.rows,
        "columns": args.columns,
        "file_mb": round(size / 1e6, 1),
        "plain": plain,
        "zipped": zipped,
        "zipped_over_plain_time": round(zipped["seconds"] / plain["seconds"], 2),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
