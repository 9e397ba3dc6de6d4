"""Request and response shapes for API-key management. Hashes never leave the server."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, StringConstraints

from earlywarn.types import Role

KeyName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"name": "analysis dashboard", "role": "analyst"},
                {
                    "name": "Sudan desk mailbox integration",
                    "role": "focal_point",
                    "focal_point_id": 3,
                },
            ]
        },
        extra="forbid",
    )

    name: KeyName = Field(description="Who or what uses the key, e.g. 'dashboard' or a person.")
    role: Role
    focal_point_id: int | None = Field(
        default=None, description="Required for role focal_point, refused for other roles."
    )


class ApiKeyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    role: Role
    prefix: str = Field(
        validation_alias=AliasChoices("key_prefix", "prefix"),
        description="The key's first characters, to tell keys apart.",
    )
    focal_point_id: int | None
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyRead):
    """The one response that carries the key itself: store it now, it cannot be shown again."""

    key: str
