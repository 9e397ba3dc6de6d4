from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from earlywarn.db import Base, utc_now


class ArchivedPayload(Base):
    """One raw body a run received, gzip-compressed, for provenance and re-parsing.

    Bodies are deduplicated by SHA-256: a body already archived is recorded again (with this
    run's URL and retrieval time) but its bytes are not stored twice; ``content`` is then NULL
    and ``stored_in_id`` points at the row that holds them. Kept in the database rather than on
    disk so it commits or rolls back with its run, is covered by the same backups, and reads the
    same from every replica.
    """

    __tablename__ = "raw_payloads"
    __table_args__ = (Index("ix_raw_payloads_sha256", "sha256"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ingest_run_id: Mapped[int] = mapped_column(ForeignKey("ingest_runs.id"), index=True)
    sequence: Mapped[int] = mapped_column(Integer)  # order of receipt within the run
    url: Mapped[str | None] = mapped_column(Text)  # redacted: never carries credentials
    content_type: Mapped[str] = mapped_column(String(128), default="")
    retrieved_at: Mapped[datetime] = mapped_column(default=utc_now)
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(Integer)
    compression: Mapped[str] = mapped_column(String(16), default="gzip")
    compressed_bytes: Mapped[int | None] = mapped_column(Integer)
    content: Mapped[bytes | None] = mapped_column(LargeBinary)
    stored_in_id: Mapped[int | None] = mapped_column(ForeignKey("raw_payloads.id"))
