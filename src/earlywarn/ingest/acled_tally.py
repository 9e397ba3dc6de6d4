"""How ACLED events are counted per country-period: the event types, civilian targeting,
repressed protests and attacks on human rights defenders, journalists and trade unionists.

Repressed protests: ACLED codes every protest event with a ``sub_event_type`` of "Peaceful
protest", "Protest with intervention" (the authorities or others tried to disrupt or
disperse it) or "Excessive force against protesters" (lethal or seriously harmful force
against peaceful protesters). The last two are the repressed ones.

Attacks on defenders: ACLED names who the civilians were in ``assoc_actor_2``, one or more
identity actors separated by ``;``, each "Name (Country)", e.g. "Journalists (Mexico)". An
event of type "Violence against civilians", or flagged "Civilian targeting", whose target
side names one of ``DEFENDER_GROUPS`` counts once, whatever else it names. "Labor Group" is
ACLED's actor for organised labour (unions and workers' groups), broader than trade
unionists; "Activists" covers civil-society activists, which ACLED does not split further.

Attacks on identity groups: the same kind of event whose target side names an ethnic or
religious identity actor ("Rohingya Ethnic Group (Myanmar)", "Muslim Group (India)": a name
ending in "Ethnic Group", or "<religion> Group" for the religions in ``RELIGIONS``) - civilians
attacked for who they are, the pattern of Framework indicators 10.2 and 10.3.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

EVENT_TYPES = {
    "Battles": "battles",
    "Violence against civilians": "violence_against_civilians",
    "Explosions/Remote violence": "explosions_remote_violence",
    "Riots": "riots",
    "Protests": "protests",
    "Strategic developments": "strategic_developments",
}
CIVILIAN_TARGETING = "Civilian targeting"
VIOLENCE_AGAINST_CIVILIANS = "Violence against civilians"
REPRESSED_PROTESTS = frozenset({"Protest with intervention", "Excessive force against protesters"})
DEFENDER_GROUPS = frozenset(
    {"Journalists", "Human Rights Defenders", "Activists", "Labor Group", "Labour Group"}
)
RELIGIONS = frozenset(
    {"Muslim", "Christian", "Hindu", "Jewish", "Buddhist", "Sikh", "Ahmadi", "Baha'i", "Yazidi"}
)
# Asked for with the other fields; rows without them (older exports) still count as events,
# but then no period gets the variables that need them (``DETAIL_VARIABLES``).
DETAIL_FIELDS = ("sub_event_type", "actor2", "assoc_actor_2")
DETAIL_SLUGS = (
    "protests_repressed_events",
    "attacks_on_defenders_events",
    "attacks_on_defenders_fatalities",
    "attacks_on_identity_groups_events",
    "attacks_on_identity_groups_fatalities",
)


def variable_names(prefix: str = "") -> list[str]:
    names = [f"acled.{prefix}events", f"acled.{prefix}fatalities"]
    for slug in EVENT_TYPES.values():
        names += [f"acled.{prefix}{slug}_events", f"acled.{prefix}{slug}_fatalities"]
    names += [
        f"acled.{prefix}civilian_targeting_events",
        f"acled.{prefix}civilian_targeting_fatalities",
    ]
    return names + [f"acled.{prefix}{slug}" for slug in DETAIL_SLUGS]


def detail_variables(prefix: str = "") -> frozenset[str]:
    return frozenset(f"acled.{prefix}{slug}" for slug in DETAIL_SLUGS)


def names_defenders(actors: str) -> bool:
    """Whether an ACLED actor list ("A (X); B (X)") names a defender group."""
    return any(actor.split(" (")[0].strip() in DEFENDER_GROUPS for actor in actors.split(";"))


def names_identity_group(actors: str) -> bool:
    """Whether an ACLED actor list names an ethnic or religious identity group."""
    for actor in actors.split(";"):
        name = actor.split(" (")[0].strip()
        words = name.split()
        if name.endswith("Ethnic Group") or (
            len(words) == 2 and words[1] == "Group" and words[0] in RELIGIONS
        ):
            return True
    return False


@dataclass(frozen=True)
class EventDetail:
    """What an event's detail fields say; None when the row lacks them."""

    protest_repressed: bool
    on_defenders: bool
    on_identity_group: bool

    @classmethod
    def of(cls, row: dict[str, Any], targets_civilians: bool) -> EventDetail | None:
        if any(not isinstance(row.get(name), str) for name in DETAIL_FIELDS):
            return None
        against_civilians = targets_civilians or row["event_type"] == VIOLENCE_AGAINST_CIVILIANS
        target_side = f"{row['actor2']};{row['assoc_actor_2']}"
        return cls(
            protest_repressed=row["event_type"] == "Protests"
            and row["sub_event_type"] in REPRESSED_PROTESTS,
            on_defenders=against_civilians and names_defenders(target_side),
            on_identity_group=against_civilians and names_identity_group(target_side),
        )


@dataclass
class Tally:
    events: int = 0
    fatalities: int = 0
    by_type: dict[str, list[int]] = field(
        default_factory=lambda: {slug: [0, 0] for slug in EVENT_TYPES.values()}
    )
    targeting: list[int] = field(default_factory=lambda: [0, 0])
    protests_repressed: int = 0
    on_defenders: list[int] = field(default_factory=lambda: [0, 0])
    on_identity_groups: list[int] = field(default_factory=lambda: [0, 0])

    def add(
        self, slug: str, fatalities: int, targets_civilians: bool, detail: EventDetail | None
    ) -> None:
        self.events += 1
        self.fatalities += fatalities
        self.by_type[slug][0] += 1
        self.by_type[slug][1] += fatalities
        if targets_civilians:
            self.targeting[0] += 1
            self.targeting[1] += fatalities
        if detail is not None and detail.protest_repressed:
            self.protests_repressed += 1
        if detail is not None and detail.on_defenders:
            self.on_defenders[0] += 1
            self.on_defenders[1] += fatalities
        if detail is not None and detail.on_identity_group:
            self.on_identity_groups[0] += 1
            self.on_identity_groups[1] += fatalities

    def values(self) -> list[int]:
        """In the order of ``variable_names``."""
        values = [self.events, self.fatalities]
        for slug in EVENT_TYPES.values():
            values += self.by_type[slug]
        detail = [self.protests_repressed, *self.on_defenders, *self.on_identity_groups]
        return values + self.targeting + detail
