"""Errors raised while fetching or parsing a source. Their messages end up in ``ingest_runs.error``,
so each one names the file or URL, the line or key, and the offending value."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from earlywarn.ingest.schemas import LoadedPayload


class IngestError(Exception):
    """A payload could not be fetched or is not acceptable; nothing of it is loaded.

    ``payload`` may carry what was received before the failure (a ``LoadedPayload``), so the
    failed run can archive it as evidence.
    """

    payload: object | None = None


class FileFormatError(IngestError):
    """A file does not follow its documented format (columns, numbers, codes, duplicates)."""


class RemoteSourceError(IngestError):
    """A remote API answered with an error, an unexpected body, or not at all."""


class UnknownSourceError(IngestError):
    """A source id that earlywarn does not know how to load."""


class EmptyPayloadError(IngestError):
    """An API source answered without a single usable value."""

    def __init__(self, message: str, payload: LoadedPayload) -> None:
        super().__init__(message)
        self.payload: object | None = payload


class SourceNotConfiguredError(IngestError):
    """A source needs credentials that are not set; it is reported, never skipped silently."""
