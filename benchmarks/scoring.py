"""Scoring benchmark: one command, figures on stdout, and a JSON line at the end.

    .venv/bin/python benchmarks/scoring.py [--postgres-url URL] [--countries 200]
        [--indicators 80] [--years 65] [--units 50000] [--periods 24] [--skip-subnational]

(a) Country history: ``countries`` x ``indicators`` x ``years`` observations in a fresh
    database (SQLite, and PostgreSQL when a URL is given or EARLYWARN_TEST_POSTGRES_URL is set);
    the whole history scored under one weight set, end to end: reading the observations,
    the engine, and writing one run per year with every country's score and breakdown.
(b) Sub-national scale: ``units`` x ``indicators`` x ``periods`` transformed values through
    the in-memory engine (normalisation, factor and composite means, explanation terms),
    one period at a time.

Each part runs in its own process so that its peak memory (max RSS) is its own. Both report
the ratio of the engine's in-memory time to a bare numpy computation of the same weighted
means (factor means over present indicators, composite over rated factors) on the same
contributions, measured in the same run: the machine is small and noisy, so read ratios.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import create_engine, make_url, text

from earlywarn.app.migrations import upgrade_to_head
from earlywarn.app.pipeline import prepare_database
from earlywarn.countries.models import Country
from earlywarn.db import create_db_engine, make_session_factory, session_scope
from earlywarn.framework.config import Configuration, load_configuration
from earlywarn.framework.config_schemas import IndicatorConfig, IndicatorsConfig
from earlywarn.framework.models import WeightSet
from earlywarn.ingest.repository import insert_observations
from earlywarn.observations.models import IngestRun, RunStatus, Source
from earlywarn.scoring import engine as scoring_engine
from earlywarn.scoring.engine import EngineSpec, Weights
from earlywarn.scoring.history_run import score_history
from earlywarn.scoring.panel import ObservationTable, build_inputs
from earlywarn.scoring.service import weights_of

REPO = Path(__file__).resolve().parent.parent
SEED = 20261129


def synthetic_config(base: Configuration, indicators: int) -> Configuration:
    """``indicators`` indicators spread over the 14 factors: mostly fixed bounds, one in ten
    a percentile within the run, one in eight decreasing risk, some counts under log1p."""
    entries = []
    for n in range(indicators):
        factor = n % 14 + 1
        entry: dict[str, Any] = {
            "id": f"bench_{n:03d}",
            "name": f"benchmark indicator {n}",
            "risk_factor": factor,
            "variable": f"bench.v{n:03d}",
            "source": "bench",
            "direction": "decreases_risk" if n % 8 == 3 else "increases_risk",
            "normalisation": {"method": "percentile"}
            if n % 10 == 7
            else {"method": "bounds", "lower": 0.0, "upper": 1.0},
            "transform": "log1p" if n % 9 == 5 else "identity",
            "weight": 1.0 + (n % 3) * 0.5,
            "max_age_days": 1095,
        }
        if entry["transform"] == "log1p":
            entry["normalisation"] = {"method": "bounds", "lower": 0.0, "upper": 0.7}
        entries.append(IndicatorConfig.model_validate(entry))
    return dataclasses.replace(base, indicators=IndicatorsConfig(indicators=entries))


def bare_numpy(
    contributions: np.ndarray,
    w: np.ndarray,
    membership: np.ndarray,
    g: np.ndarray,
    applicable: np.ndarray,
    min_factors: int,
) -> np.ndarray:
    """The same weighted means alone, written the shortest way numpy allows: factor means over
    present indicators, composite over rated applicable factors, unrated below the minimum."""
    present = ~np.isnan(contributions)
    num = (np.nan_to_num(contributions) * w) @ membership
    den = (present * w) @ membership
    with np.errstate(invalid="ignore", divide="ignore"):
        factor = num / den
        rated = (den > 0) & applicable & (g > 0)
        composite = np.sum(np.where(rated, factor * g, 0.0), axis=-1) / np.sum(rated * g, axis=-1)
    return np.where(rated.sum(axis=-1) >= min_factors, composite, np.nan)


def _timed(fn: Any, repeat: int = 3) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - started)
    return best, result


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- (a) ------------------------------------------------------------------------------------


def _load(url: str, config: Configuration, countries: int, years: int) -> tuple[Any, int, int]:
    engine = create_db_engine(url)
    upgrade_to_head(engine)
    factory = make_session_factory(engine)
    weight_set_id = prepare_database(factory, config)
    rng = np.random.default_rng(SEED)
    first_year = 2025 - years + 1
    with session_scope(factory) as session:
        iso3s = [
            c.iso3
            for c in session.query(Country)
            .filter(Country.is_historical.is_(False))
            .limit(countries)
        ]
        session.add(Source(id="bench", name="benchmark", kind="file"))
        session.flush()
        run = IngestRun(
            source_id="bench", status=RunStatus.SUCCEEDED, finished_at=datetime.now(UTC)
        )
        session.add(run)
        session.flush()
        run_id = run.id
    now = datetime.now(UTC)
    n_obs = 0
    for ind_n, ind in enumerate(config.indicators.indicators):
        values = rng.random((years, len(iso3s)))
        missing = rng.random((years, len(iso3s))) < 0.1
        # Tuples in OBSERVATION_COLUMNS order.
        rows = [
            (
                iso3,
                ind.variable,
                str(first_year + y),
                date(first_year + y, 1, 1),
                date(first_year + y, 12, 31),
                float(values[y, c]) * (1 + ind_n % 3),
                "bench",
                run_id,
                now,
            )
            for y in range(years)
            for c, iso3 in enumerate(iso3s)
            if not missing[y, c]
        ]
        with session_scope(factory) as session:
            insert_observations(session, rows)
        n_obs += len(rows)
    return factory, weight_set_id, n_obs


def part_a(url: str, countries: int, indicators: int, years: int) -> dict[str, Any]:
    config = synthetic_config(load_configuration(REPO / "config"), indicators)
    factory, weight_set_id, n_obs = _load(url, config, countries, years)
    dates = [date(y, 12, 31) for y in range(2025 - years + 1, 2026)]

    phases: dict[str, float] = {}
    started = time.perf_counter()
    with session_scope(factory) as session:
        weight_set = session.get_one(WeightSet, weight_set_id)
        runs = score_history(session, config, weight_set, dates=dates, timings=phases)
        scores = sum(r.countries_scored for r in runs)
        commit_started = time.perf_counter()
    phases["commit_seconds"] = time.perf_counter() - commit_started
    end_to_end = time.perf_counter() - started

    # The same history in memory, split into its parts, against bare numpy.
    from earlywarn.scoring import history_read

    with session_scope(factory) as session:
        started = time.perf_counter()
        rows = history_read.observation_groups(
            session, sorted({i.variable for i in config.indicators.indicators}), end=dates[-1]
        )
        read_seconds = time.perf_counter() - started
        weights = weights_of(
            EngineSpec.from_config(config), session.get_one(WeightSet, weight_set_id)
        )
    table_seconds, table = _timed(lambda: ObservationTable.from_groups(rows), 1)
    panel_seconds, inputs = _timed(lambda: build_inputs(config, table, dates))
    spec = EngineSpec.from_config(config)

    def engine_only() -> Any:
        c = scoring_engine.normalise(spec, inputs.value)
        agg = scoring_engine.aggregate(spec, c, weights, inputs.armed_conflict)
        scoring_engine.indicator_terms(spec, c, weights, agg)
        return c, agg

    engine_seconds, (contributions, agg) = _timed(engine_only)
    bare_seconds, bare = _timed(
        lambda: bare_numpy(
            contributions,
            weights.indicator,
            spec.membership,
            weights.factor,
            agg.applicable,
            spec.min_factors_with_data,
        )
    )
    same = np.allclose(np.nan_to_num(bare, nan=-1), np.nan_to_num(agg.composite, nan=-1))
    return {
        "observations": n_obs,
        "score_runs": len(runs),
        "scores_written": scores,
        "end_to_end_seconds": round(end_to_end, 3),
        **{f"end_to_end_{k}": round(v, 3) for k, v in phases.items()},
        "read_seconds": round(read_seconds, 3),
        "columns_seconds": round(table_seconds, 3),
        "panel_build_seconds": round(panel_seconds, 3),
        "engine_seconds": round(engine_seconds, 4),
        "bare_numpy_seconds": round(bare_seconds, 4),
        "engine_over_bare_numpy": round(engine_seconds / bare_seconds, 2),
        "in_memory_over_bare_numpy": round((panel_seconds + engine_seconds) / bare_seconds, 2),
        "composites_match_bare_numpy": bool(same),
        "peak_rss_mb": round(_peak_rss_mb(), 1),
    }


# --- (b) ------------------------------------------------------------------------------------


def part_b(units: int, indicators: int, periods: int) -> dict[str, Any]:
    config = synthetic_config(load_configuration(REPO / "config"), indicators)
    spec = EngineSpec.from_config(config)
    weights = Weights.from_maps(
        spec,
        {i.id: i.weight for i in config.indicators.indicators},
        dict.fromkeys(range(1, 15), 1.0),
    )
    rng = np.random.default_rng(SEED)
    conflict = np.ones((1, units), dtype=np.int8)
    engine_total = bare_total = 0.0
    rated = 0
    started = time.perf_counter()
    for _ in range(periods):
        values = rng.random((1, units, indicators))
        values[rng.random(values.shape) < 0.2] = np.nan
        t0 = time.perf_counter()
        c = scoring_engine.normalise(spec, values)
        agg = scoring_engine.aggregate(spec, c, weights, conflict)
        terms = scoring_engine.indicator_terms(spec, c, weights, agg)
        t1 = time.perf_counter()
        bare = bare_numpy(
            c,
            weights.indicator,
            spec.membership,
            weights.factor,
            agg.applicable,
            spec.min_factors_with_data,
        )
        t2 = time.perf_counter()
        engine_total += t1 - t0
        bare_total += t2 - t1
        rated += int(np.sum(~np.isnan(agg.composite)))
        # The explanation is exact: the terms add up to the composite.
        ok = ~np.isnan(agg.composite)
        assert np.allclose(terms.sum(axis=2)[ok], agg.composite[ok])
        del values, c, agg, terms, bare
    wall = time.perf_counter() - started
    return {
        "cells": units * indicators * periods,
        "scores": rated,
        "wall_seconds_including_data_generation": round(wall, 3),
        "engine_seconds": round(engine_total, 3),
        "bare_numpy_seconds": round(bare_total, 3),
        "engine_over_bare_numpy": round(engine_total / bare_total, 2),
        "peak_rss_mb": round(_peak_rss_mb(), 1),
    }


# --- driver ---------------------------------------------------------------------------------


def _child(args: argparse.Namespace) -> int:
    if args.part == "b":
        result = part_b(args.units, args.indicators, args.periods)
    else:
        result = part_a(args.url, args.countries, args.indicators, args.years)
    print(json.dumps(result))
    return 0


def _run_child(argv: list[str]) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, *argv], check=True, capture_output=True, text=True
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def _postgres_database(url: str) -> tuple[str, Any]:
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    name = f"earlywarn_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    return make_url(url).set(database=name).render_as_string(hide_password=False), (admin, name)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres-url", default=os.environ.get("EARLYWARN_TEST_POSTGRES_URL"))
    parser.add_argument("--countries", type=int, default=200)
    parser.add_argument("--indicators", type=int, default=80)
    parser.add_argument("--years", type=int, default=65)
    parser.add_argument("--units", type=int, default=50_000)
    parser.add_argument("--periods", type=int, default=24)
    parser.add_argument("--skip-subnational", action="store_true")
    parser.add_argument("--part", choices=["a", "b"], help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.part:
        return _child(args)

    sizes = ["--countries", str(args.countries), "--indicators", str(args.indicators)]
    sizes += ["--years", str(args.years), "--units", str(args.units)]
    sizes += ["--periods", str(args.periods)]
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        results["a_sqlite"] = _run_child(
            [*sizes, "--part", "a", "--url", f"sqlite:///{tmp}/bench.db"]
        )
    if args.postgres_url:
        url, (admin, name) = _postgres_database(args.postgres_url)
        try:
            results["a_postgresql"] = _run_child([*sizes, "--part", "a", "--url", url])
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
    if not args.skip_subnational:
        results["b_subnational"] = _run_child([*sizes, "--part", "b"])

    goals = {"a_end_to_end_seconds": 2.0, "b_seconds": 60.0, "b_peak_mb": 4096.0, "ratio": 5.0}
    for part, figures in results.items():
        print(f"== {part}")
        for key, value in figures.items():
            print(f"  {key:40s} {value}")
    print(f"== goals: {goals}")
    print(json.dumps({"benchmark": "scoring", "goals": goals, **results}, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
