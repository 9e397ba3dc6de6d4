"""Which sources a run takes: one rule for the ``ingest`` command and the scheduler.

A source is taken when it is enabled (an API source named on its own is taken even when it is
disabled: asking for it is the decision), when its schedule fits the run (the scheduler's own
jobs take the sources with a ``schedule``; its daily pipeline run leaves them out), and, for an
API source, when its credentials are set; one whose credentials are missing is reported as not
configured instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from earlywarn.framework.sources_schemas import ScheduledSourceConfig, SourcesConfig
from earlywarn.ingest.registry import CONNECTORS
from earlywarn.settings import Settings


@dataclass(frozen=True)
class SelectedSources:
    """``api``: API source id -> its entry (``None``: named, but absent from sources.yaml).
    ``file_formats``: the file formats whose enabled files are loaded. ``not_configured``: API
    source id -> the settings to set. ``schedules``: source id -> its own crontab (only when
    the sources with an own schedule were asked for)."""

    api: dict[str, ScheduledSourceConfig | None] = field(default_factory=dict)
    file_formats: list[str] = field(default_factory=list)
    not_configured: dict[str, list[str]] = field(default_factory=dict)
    schedules: dict[str, str] = field(default_factory=dict)

    @property
    def source_ids(self) -> list[str]:
        """Every source taken, API sources first (in sources.yaml's order), then file formats."""
        return [*self.api, *self.file_formats]


def _schedule_fits(entry: ScheduledSourceConfig, own_schedule: bool | None) -> bool:
    if own_schedule is None:
        return True
    return (entry.schedule is not None) == own_schedule


def select_sources(
    sources: SourcesConfig,
    settings: Settings,
    *,
    only: str | None = None,
    own_schedule: bool | None = None,
) -> SelectedSources:
    """The sources a run takes.

    ``only``: one source id (an API source or a file format). ``own_schedule``: ``None`` takes
    every source whatever its schedule (``earlywarn ingest``); ``True`` only the sources with a
    schedule of their own, one scheduler job each (for a file format, the entry that
    ``SourcesConfig.scheduled_sources`` stands for it); ``False`` only those without (the
    scheduled pipeline run, beside those jobs).
    """
    selected = SelectedSources()
    entries: dict[str, ScheduledSourceConfig | None] = dict(sources.api_sources())
    if only is not None and only in CONNECTORS and only not in entries:
        entries[only] = None  # named on the command line, not in sources.yaml: its defaults
    for source_id, entry in entries.items():
        if only is not None and source_id != only:
            continue
        if entry is not None:
            if only is None and not entry.enabled:
                continue
            if not _schedule_fits(entry, own_schedule):
                continue
        elif own_schedule:
            continue
        connector = CONNECTORS.get(source_id)
        missing = connector.missing_settings(settings) if connector is not None else []
        if missing:
            selected.not_configured[source_id] = missing
            continue
        selected.api[source_id] = entry
        if own_schedule and entry is not None and entry.schedule is not None:
            selected.schedules[source_id] = entry.schedule
    if own_schedule:
        # One job per format, on the schedule of the entry that stands for the format.
        for fmt, entry in sources.scheduled_sources().items():
            if fmt in entries or (only is not None and fmt != only):
                continue
            if entry.enabled and entry.schedule is not None:
                selected.file_formats.append(fmt)
                selected.schedules[fmt] = entry.schedule
        return selected
    # A file format named on its own is taken when sources.yaml has a file of it; the loader
    # (ingest_configured_sources) still leaves its disabled files out.
    formats = {
        entry.format
        for entry in sources.files.values()
        if (entry.enabled or entry.format == only)
        and (only is None or entry.format == only)
        and _schedule_fits(entry, own_schedule)
    }
    selected.file_formats.extend(sorted(formats))
    return selected
