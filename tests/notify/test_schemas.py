"""Contact targets are checked before they are stored: clear reasons, nothing half-accepted."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from earlywarn.notify.models import Channel
from earlywarn.notify.schemas import (
    FocalPointCreate,
    FocalPointUpdate,
    SubscriptionCreate,
    check_email,
    check_webhook_url,
)
from earlywarn.types import RiskLevel


@pytest.mark.parametrize(
    "address",
    ["desk@example.org", "first.last+alerts@un.example.int", "a@b-c.d1.org", " x@example.org "],
)
def test_plausible_addresses_are_accepted(address: str) -> None:
    assert check_email(address) == address.strip()


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("desk.example.org", "exactly one '@'"),
        ("a@b@example.org", "exactly one '@'"),
        ("@example.org", "local part"),
        ("de sk@example.org", "local part"),
        ("desk@localhost", "domain"),
        ("desk@example..org", "domain"),
        ("desk@-example.org", "domain"),
        ("desk@exa_mple.org", "domain"),
        ("x" * 65 + "@example.org", "local part"),
        ("desk@" + "a" * 320 + ".org", "longer than 320"),
    ],
)
def test_implausible_addresses_name_the_problem(address: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        check_email(address)


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.example.org/earlywarn",
        "http://10.0.0.5:8080/notify?token=abc",
        "HTTPS://Hooks.Example.org",
    ],
)
def test_http_urls_are_accepted(url: str) -> None:
    assert check_webhook_url(url) == url


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://files.example.org/x", "http:// or https://"),
        ("hooks.example.org/earlywarn", "http:// or https://"),
        ("https://", "name a host"),
        ("https:///path-only", "name a host"),
        ("https://user:secret@hooks.example.org/", "credentials"),
        ("https://hooks.example.org/a b", "spaces"),
        ("https://hooks.example.org:99999/", "malformed"),
        ("https://" + "a" * 2050 + ".org", "longer than 2048"),
    ],
)
def test_bad_webhook_urls_name_the_problem(url: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        check_webhook_url(url)


def test_focal_point_errors_point_at_the_field() -> None:
    with pytest.raises(ValidationError) as caught:
        FocalPointCreate(name="Desk", email="nobody", webhook_url="ftp://x.org")
    locations = {error["loc"] for error in caught.value.errors()}
    assert locations == {("email",), ("webhook_url",)}


def test_unknown_fields_are_refused_not_ignored() -> None:
    with pytest.raises(ValidationError, match="emial"):
        FocalPointCreate.model_validate({"name": "Desk", "emial": "desk@example.org"})


def test_update_remembers_which_fields_were_given() -> None:
    update = FocalPointUpdate.model_validate({"email": None})
    assert update.model_fields_set == {"email"}


def test_subscription_country_is_normalised_and_checked() -> None:
    assert SubscriptionCreate(country_iso3=" sdn ", channel=Channel.EMAIL).country_iso3 == "SDN"
    assert SubscriptionCreate(channel=Channel.WEBHOOK).min_level is RiskLevel.WARNING
    with pytest.raises(ValidationError, match="country_iso3"):
        SubscriptionCreate(country_iso3="SD", channel=Channel.EMAIL)
    with pytest.raises(ValidationError, match="channel"):
        SubscriptionCreate.model_validate({"channel": "sms"})
