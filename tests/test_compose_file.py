"""compose.yaml, checked without Docker: the services the README promises, each running an
``earlywarn`` command with options that command has, settings the service knows, and health
checks on the port each process listens on."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml

from earlywarn.app.cli import app as cli
from earlywarn.settings import Settings

COMPOSE = Path(__file__).resolve().parent.parent / "compose.yaml"
# The cluster's processes (issue 12, item 1) come with another branch; until it is merged their
# names are only checked against this list, then against the commands themselves.
CLUSTER_COMMANDS = {"api", "scheduler", "worker"}
EARLYWARN_SERVICES = {"migrate", "api", "scheduler", "worker"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    return loaded


def _commands() -> dict[str, Any]:
    group = typer.main.get_command(cli)
    return dict(group.commands)  # type: ignore[attr-defined]


def test_the_services_and_their_replicas(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"postgres"} | EARLYWARN_SERVICES
    assert services["api"]["deploy"]["replicas"] == 2
    assert services["scheduler"]["deploy"]["replicas"] == 2
    assert services["postgres"]["image"].startswith("postgres:")
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    for name in EARLYWARN_SERVICES:
        assert services[name]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in EARLYWARN_SERVICES - {"migrate"}:
        assert services[name]["depends_on"]["migrate"]["condition"] == (
            "service_completed_successfully"
        )


def test_every_service_runs_an_earlywarn_command_with_its_options(
    compose: dict[str, Any],
) -> None:
    commands = _commands()
    for name in EARLYWARN_SERVICES:
        service = compose["services"][name]
        assert service["entrypoint"] == ["earlywarn"], name
        command, *arguments = service["command"]
        if command not in commands:
            assert command in CLUSTER_COMMANDS, f"{name}: no command 'earlywarn {command}'"
            continue
        known = {opt for param in commands[command].params for opt in param.opts}
        for argument in arguments:
            if argument.startswith("--"):
                assert argument in known, f"{name}: 'earlywarn {command}' has no {argument}"


def test_every_variable_is_a_setting_and_secrets_are_required(compose: dict[str, Any]) -> None:
    environment = compose["x-earlywarn"]["environment"]
    fields = set(Settings.model_fields)
    for variable in environment:
        assert variable.startswith("EARLYWARN_"), variable
        assert variable.removeprefix("EARLYWARN_").lower() in fields, variable
    # No default for what must be chosen per installation: compose stops with the message.
    for variable in ("EARLYWARN_SECRET_KEYS", "EARLYWARN_BOOTSTRAP_ADMIN_KEY"):
        assert re.search(r"\$\{\w+:\?[^}]+\}", environment[variable]), variable
    assert ":?" in environment["EARLYWARN_DATABASE_URL"]


def test_health_checks_ask_the_port_each_process_listens_on(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name in ("api", "scheduler"):
        command = services[name]["command"]
        port = command[command.index("--port") + 1]
        check = " ".join(services[name]["healthcheck"]["test"])
        assert f"127.0.0.1:{port}/livez" in check, name
    # The worker and the one-shot migration serve no HTTP: the image's check is turned off.
    assert services["worker"]["healthcheck"] == {"disable": True}
    assert services["migrate"]["healthcheck"] == {"disable": True}
