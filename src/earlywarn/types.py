"""Small shared vocabulary: enums used across stages and the column type that stores them."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, Integer
from sqlalchemy import Enum as SAEnum

# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit key.
BigIntPK = BigInteger().with_variant(Integer(), "sqlite")


def enum_column(enum_cls: type[StrEnum], column: str) -> SAEnum:
    """A portable VARCHAR + CHECK column storing an enum's values (not its member names).

    ``column`` names the CHECK constraint (``ck_<table>_<column>``): one table may hold two
    columns of the same enum, and constraint names must differ.
    """
    return SAEnum(
        enum_cls,
        native_enum=False,
        create_constraint=True,
        length=32,
        values_callable=lambda members: [m.value for m in members],
        name=column,
        validate_strings=True,
    )


class RiskLevel(StrEnum):
    """The ladder of concern, lowest first (see config/scoring.yaml and the README)."""

    LOW = "low"
    CONCERN = "concern"
    WARNING = "warning"
    EMERGENCY = "emergency"

    @property
    def rank(self) -> int:
        return list(RiskLevel).index(self)

    def __ge__(self, other: Any) -> bool:
        if isinstance(other, RiskLevel):
            return self.rank >= other.rank
        return NotImplemented

    def __gt__(self, other: Any) -> bool:
        if isinstance(other, RiskLevel):
            return self.rank > other.rank
        return NotImplemented

    def __le__(self, other: Any) -> bool:
        if isinstance(other, RiskLevel):
            return self.rank <= other.rank
        return NotImplemented

    def __lt__(self, other: Any) -> bool:
        if isinstance(other, RiskLevel):
            return self.rank < other.rank
        return NotImplemented


class Sphere(StrEnum):
    NATIONAL = "national"
    BILATERAL = "bilateral"
    REGIONAL = "regional"
    MULTILATERAL = "multilateral"


class Role(StrEnum):
    ANALYST = "analyst"
    FOCAL_POINT = "focal_point"
    ADMIN = "admin"
