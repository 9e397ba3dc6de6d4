"""The ``cap`` section of ``config/alerting.yaml``: who may read the CAP 1.2 feed, and how
long a resolved alert's Cancel stays in it."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class CapConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    public_feed: bool = Field(
        default=False,
        description="Serve /public/alerts/feed.cap without a key (public fields only).",
    )
    resolved_in_feed_days: int = Field(
        default=30,
        ge=0,
        le=365,
        description="A resolved alert's Cancel message stays in the feeds this many days.",
    )
