"""V-Dem, PTS and EPR files through ``import_file``, the CLI and ``sources.yaml``: every load
is a run, an unchanged file adds nothing, a broken file keeps earlier vintages intact."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from earlywarn.app.cli import app as cli_app
from earlywarn.countries.service import seed_countries
from earlywarn.db import session_scope
from earlywarn.framework.config import ConfigError, load_sources_config
from earlywarn.ingest.service import import_file
from earlywarn.ingest.vdem import DEFAULT_VARIABLES
from earlywarn.observations.models import IngestRun, Observation, RunStatus
from earlywarn.settings import get_settings

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def seeded(session_factory: sessionmaker[Session]) -> sessionmaker[Session]:
    with session_scope(session_factory) as session:
        seed_countries(session)
    return session_factory


def _observations(factory: sessionmaker[Session], source_id: str) -> int:
    with factory() as session:
        return (
            session.scalar(
                select(func.count())
                .select_from(Observation)
                .where(Observation.source_id == source_id)
            )
            or 0
        )


@pytest.mark.parametrize(
    ("fmt", "file_name", "loaded"),
    [("vdem", "vdem_small.csv", 10), ("pts", "pts_small.csv", 11), ("epr", "epr_small.csv", 9)],
)
def test_file_loads_once_and_an_unchanged_rerun_adds_nothing(
    seeded: sessionmaker[Session], data_dir: Path, fmt: str, file_name: str, loaded: int
) -> None:
    variables = ["v2x_clphy", "v2clkill"] if fmt == "vdem" else None
    run = import_file(seeded, data_dir / file_name, fmt, variables=variables)  # type: ignore[arg-type]
    assert run.status is RunStatus.SUCCEEDED, run.error
    assert run.source_id == fmt
    assert run.rows_loaded == loaded
    assert run.rows_read == run.rows_loaded + run.rows_unchanged + run.rows_skipped
    assert _observations(seeded, fmt) == loaded

    again = import_file(seeded, data_dir / file_name, fmt, variables=variables)  # type: ignore[arg-type]
    assert again.status is RunStatus.UNCHANGED
    assert again.rows_loaded == 0
    assert _observations(seeded, fmt) == loaded


def test_vdem_variables_and_start_year_are_passed_through(
    seeded: sessionmaker[Session], data_dir: Path
) -> None:
    run = import_file(
        seeded, data_dir / "vdem_small.csv", "vdem", variables=["v2clkill"], start_year=2000
    )
    assert run.status is RunStatus.SUCCEEDED, run.error
    assert run.rows_loaded == 2  # KEN 2022, SOM 2023 (KEN 2023 is NA)
    assert run.details["variables"] == ["v2clkill"]


def test_a_broken_file_fails_and_keeps_the_earlier_vintage(
    seeded: sessionmaker[Session], data_dir: Path, tmp_path: Path
) -> None:
    first = import_file(seeded, data_dir / "pts_small.csv", "pts")
    assert first.status is RunStatus.SUCCEEDED
    broken = tmp_path / "pts.csv"
    broken.write_text(
        (data_dir / "pts_small.csv")
        .read_text()
        .replace("Somalia,2023,SOM,520,SOM,706,ssa,5", "Somalia,2023,SOM,520,SOM,706,ssa,9")
    )
    failed = import_file(seeded, broken, "pts")
    assert failed.status is RunStatus.FAILED
    assert failed.error is not None
    assert "column 'PTS_A': '9' is not a score" in failed.error
    assert failed.rows_loaded == 0
    assert _observations(seeded, "pts") == first.rows_loaded


def test_a_revised_value_is_a_new_vintage(
    seeded: sessionmaker[Session], data_dir: Path, tmp_path: Path
) -> None:
    import_file(seeded, data_dir / "epr_small.csv", "epr")
    revised = tmp_path / "epr.csv"
    revised.write_text(
        (data_dir / "epr_small.csv").read_text().replace("0.20,POWERLESS", "0.22,POWERLESS")
    )
    run = import_file(seeded, revised, "epr")
    assert run.status is RunStatus.SUCCEEDED
    assert run.rows_loaded == 4  # KEN exclpop and fractionalisation, 2019 and 2020
    assert run.rows_unchanged == 5  # KEN discrimpop twice, SOM 2020 three


# --- configuration and CLI --------------------------------------------------------------------


def test_sources_config_accepts_file_options(tmp_path: Path) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text(
        "files:\n"
        "  vdem:\n    format: vdem\n    path: vdem.csv\n    variables: [v2clkill]\n"
        "    start_year: 1990\n"
        "  epr:\n    format: epr\n    path: /data/EPR-2021.csv\n    start_year: 1990\n"
        "  pts:\n    format: pts\n    path: pts.csv\n"
    )
    config = load_sources_config(path)
    assert config.files["vdem"].variables == ["v2clkill"]
    assert config.files["vdem"].path == tmp_path / "vdem.csv"
    assert config.files["epr"].start_year == 1990


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "files:\n  x:\n    format: pts\n    path: a.csv\n    variables: [a]\n",
            "variables can only be given for format vdem",
        ),
        (
            "files:\n  x:\n    format: pts\n    path: a.csv\n    start_year: 1990\n",
            "start_year can only be given for formats vdem and epr",
        ),
        (
            "files:\n  x:\n    format: vdem\n    path: a.csv\n    variables: []\n",
            "files.x.variables",
        ),
    ],
)
def test_invalid_file_options_name_the_key(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_sources_config(path)
    assert expected in str(info.value)
    assert "sources.yaml" in str(info.value)


@pytest.fixture
def cli_env(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, str]]:
    config_dir = tmp_path / "config"
    shutil.copytree(REPO / "config", config_dir)
    (config_dir / "sources.yaml").write_text("worldbank:\n  enabled: false\n  years_back: 8\n")
    env = {
        "EARLYWARN_DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "EARLYWARN_CONFIG_DIR": str(config_dir),
        "EARLYWARN_DATA_DIR": str(tmp_path / "data"),
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    yield env
    get_settings.cache_clear()


def test_cli_import_detects_each_format(
    cli_env: dict[str, str],
    session_factory: sessionmaker[Session],
    data_dir: Path,
    tmp_path: Path,
) -> None:
    vdem = tmp_path / "vdem.csv"
    vdem.write_text(
        "country_name,country_text_id,year,COWcode," + ",".join(DEFAULT_VARIABLES) + "\n"
        "Kenya,KEN,2023,501," + ",".join("0.5" for _ in DEFAULT_VARIABLES) + "\n"
    )
    runner = CliRunner()
    for path, source_id in (
        (vdem, "vdem"),
        (data_dir / "pts_small.csv", "pts"),
        (data_dir / "epr_small.csv", "epr"),
    ):
        result = runner.invoke(cli_app, ["import", str(path)])
        assert result.exit_code == 0, result.output
        assert f"{source_id}: succeeded" in result.output
    result = runner.invoke(cli_app, ["import", str(data_dir / "pts_small.csv"), "-f", "epr"])
    assert result.exit_code == 1
    assert "missing required column(s) 'gwid'" in result.output
    with session_factory() as session:
        sources = set(session.scalars(select(IngestRun.source_id)))
    assert sources == {"vdem", "pts", "epr"}


def test_cli_ingest_reports_an_unconfigured_source(cli_env: dict[str, str]) -> None:
    result = CliRunner().invoke(cli_app, ["ingest", "--source", "reliefweb"])
    assert result.exit_code == 1
    assert "EARLYWARN_RELIEFWEB_APPNAME" in result.output


# --- zipped files and downloads ---------------------------------------------------------------


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    import zipfile

    with zipfile.ZipFile(path, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return path


def test_a_zipped_release_is_read_through_its_country_year_csv(
    seeded: sessionmaker[Session], data_dir: Path, tmp_path: Path
) -> None:
    release = _zip(
        tmp_path / "V-Dem-CY-FullOthers-v15_csv.zip",
        {
            "V-Dem-CY-FullOthers-v15_csv/codebook.csv": b"variable,meaning\n",
            "V-Dem-CY-FullOthers-v15_csv/V-Dem-CY-Full+Others-v15.csv": (
                data_dir / "vdem_small.csv"
            ).read_bytes(),
        },
    )
    run = import_file(seeded, release, "vdem", variables=["v2x_clphy", "v2clkill"])
    assert run.status is RunStatus.SUCCEEDED, run.error
    assert run.rows_loaded == 10
    again = import_file(seeded, release, "vdem", variables=["v2x_clphy", "v2clkill"])
    assert again.status is RunStatus.UNCHANGED


@pytest.mark.parametrize(
    ("members", "message"),
    [
        ({"a.csv": b"x\n", "b.csv": b"y\n"}, "exactly one country-year CSV; it holds a.csv, b.csv"),
        ({"readme.txt": b"x"}, "it holds readme.txt"),
    ],
)
def test_a_zip_without_one_csv_fails(
    seeded: sessionmaker[Session], tmp_path: Path, members: dict[str, bytes], message: str
) -> None:
    run = import_file(seeded, _zip(tmp_path / "pts.zip", members), "pts")
    assert run.status is RunStatus.FAILED
    assert run.error is not None
    assert message in run.error


def test_a_corrupt_zip_fails(seeded: sessionmaker[Session], tmp_path: Path) -> None:
    broken = tmp_path / "epr.zip"
    broken.write_bytes(b"PK\x03\x04 not really a zip")
    run = import_file(seeded, broken, "epr")
    assert run.status is RunStatus.FAILED
    assert run.error is not None
    assert "not a readable zip file" in run.error


def test_a_file_source_can_be_downloaded(
    seeded: sessionmaker[Session], data_dir: Path, tmp_path: Path
) -> None:
    import httpx

    from earlywarn.ingest.service import import_url
    from earlywarn.settings import Settings

    body = (data_dir / "pts_small.csv").read_bytes()
    calls: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(str(request.url))
        if request.url.path.endswith("missing.csv"):
            return httpx.Response(404, text="Not Found")
        return httpx.Response(200, content=body, headers={"Content-Type": "text/csv"})

    client = httpx.Client(transport=httpx.MockTransport(handler))
    settings = Settings(http_max_attempts=1)
    url = "https://data.test/PTS-2024.csv"
    run = import_url(seeded, settings, url, "pts", client=client)
    assert run.status is RunStatus.SUCCEEDED, run.error
    assert run.rows_loaded == 11
    assert run.source_uri == url
    again = import_url(seeded, settings, url, "pts", client=client)
    assert again.status is RunStatus.UNCHANGED
    failed = import_url(seeded, settings, "https://data.test/missing.csv", "pts", client=client)
    assert failed.status is RunStatus.FAILED
    assert failed.error is not None
    assert "HTTP 404" in failed.error
    assert calls == [url, url, "https://data.test/missing.csv"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("files:\n  x:\n    format: pts\n", "give either path or url"),
        (
            "files:\n  x:\n    format: pts\n    path: a.csv\n    url: https://a.test/b.csv\n",
            "give either path or url",
        ),
        (
            "files:\n  x:\n    format: csv\n    url: https://a.test/b.csv\n",
            "url can only be given for formats vdem, pts, epr and coups",
        ),
        ("files:\n  x:\n    format: pts\n    url: ftp://a.test/b.csv\n", "files.x.url"),
    ],
)
def test_path_or_url(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_sources_config(path)
    assert expected in str(info.value)


def test_cli_ingest_runs_a_configured_file_source(
    cli_env: dict[str, str], session_factory: sessionmaker[Session], data_dir: Path
) -> None:
    sources = Path(cli_env["EARLYWARN_CONFIG_DIR"]) / "sources.yaml"
    sources.write_text(
        "worldbank:\n  enabled: false\n  years_back: 8\n"
        "files:\n"
        f"  pts:\n    format: pts\n    path: {data_dir / 'pts_small.csv'}\n"
        f"  epr:\n    format: epr\n    path: {data_dir / 'epr_small.csv'}\n    start_year: 2020\n"
    )
    result = CliRunner().invoke(cli_app, ["ingest", "epr"])
    assert result.exit_code == 0, result.output
    assert "epr: succeeded" in result.output
    result = CliRunner().invoke(cli_app, ["ingest", "vdem"])
    assert result.exit_code == 1
    assert "no 'vdem' file under files" in result.output
    with session_factory() as session:
        assert set(session.scalars(select(IngestRun.source_id))) == {"epr"}


def test_cli_import_detects_a_zipped_release(
    cli_env: dict[str, str], data_dir: Path, tmp_path: Path
) -> None:
    csv_text = (
        "country_name,country_text_id,year,COWcode," + ",".join(DEFAULT_VARIABLES) + "\n"
        "Kenya,KEN,2023,501," + ",".join("0.5" for _ in DEFAULT_VARIABLES) + "\n"
    )
    release = _zip(tmp_path / "vdem.zip", {"V-Dem-CY-Full+Others-v15.csv": csv_text.encode()})
    result = CliRunner().invoke(cli_app, ["import", str(release)])
    assert result.exit_code == 0, result.output
    assert "vdem: succeeded" in result.output
