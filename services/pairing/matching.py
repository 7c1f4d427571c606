"""Choose a helper unit and cadre for a household (结对匹配): pure functions, no store, no clock.

A household's causes name the unit functions that fit it; the candidates are active cadres of such units
whose federation is the case's own or one of its ancestors, with a free slot. They are ranked by the
household's most pressing cause first, then the nearest federation, the least load, and registration
order, so the same roster always gives the same answer; the rule that chose is kept with the pairing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from services.contracts.federation import ancestors, ancestry

# Most pressing first: health and a home before schooling and income (decisions.md, "Pairing").
CAUSE_PRIORITY = ("illness", "disability", "disaster", "education", "unemployment", "low_income", "accident", "other")
GENERAL = ("union", "civil_affairs")
CAUSE_FUNCTIONS: dict[str, tuple[str, ...]] = {
    "illness": ("health", "medical_insurance"),
    "disability": ("health", "medical_insurance"),
    "disaster": ("housing",),
    "education": ("education",),
    "unemployment": ("employment",),
    "low_income": ("employment",),
    "accident": GENERAL,
    "other": GENERAL,
}


@dataclass(frozen=True)
class Candidate:
    """A cadre as matching sees it: where they sit, what their unit does, and how full they are."""

    cadre_id: str
    unit_id: str
    function: str
    federation: str
    registered_at: str
    load: int
    capacity: int

    @property
    def free(self) -> bool:
        return self.load < self.capacity


@dataclass(frozen=True)
class Choice:
    """A candidate for one household with the rule that put it there, as recorded in the event."""

    candidate: Candidate
    rule: dict[str, Any]


def ranked_causes(causes: Iterable[str]) -> list[str]:
    """The household's causes, most pressing first; a cause matching knows nothing of counts as `other`."""
    known = {c if c in CAUSE_FUNCTIONS else "other" for c in causes} or {"other"}
    return [c for c in CAUSE_PRIORITY if c in known]


def fitting_functions(causes: Iterable[str]) -> list[tuple[str, str]]:
    """(cause, function) pairs that fit the household, most pressing cause first, each function once."""
    seen: set[str] = set()
    pairs = []
    for cause in ranked_causes(causes):
        for function in CAUSE_FUNCTIONS[cause]:
            if function not in seen:
                seen.add(function)
                pairs.append((cause, function))
    return pairs


def choices(federation: str, causes: Sequence[str], candidates: Iterable[Candidate]) -> list[Choice]:
    """Every free candidate that fits the household, best first, each with the rule that ranks it."""
    fitting, ranking, choice = _ranking(federation, causes, candidates)
    return [choice(c) for c in sorted(fitting, key=ranking)]


def best_choice(federation: str, causes: Sequence[str], candidates: Iterable[Candidate]) -> Choice | None:
    """The first of `choices` (the same ranking), or None, without ranking all of them."""
    fitting, ranking, choice = _ranking(federation, causes, candidates)
    return choice(min(fitting, key=ranking)) if fitting else None


def _ranking(
    federation: str, causes: Sequence[str], candidates: Iterable[Candidate]
) -> tuple[list[Candidate], Callable[[Candidate], tuple[Any, ...]], Callable[[Candidate], Choice]]:
    """The free candidates that fit the household, the key that ranks them (least first), and their Choice:
    the most pressing cause, the nearest federation, the least load, then registration order and id."""
    above = ancestry(federation)
    cause_of = {function: cause for cause, function in reversed(fitting_functions(causes))}
    rank = {cause: i for i, cause in enumerate(ranked_causes(causes))}
    fitting = [c for c in candidates if c.free and c.function in cause_of and c.federation in above]

    def ranking(c: Candidate) -> tuple[Any, ...]:
        return rank[cause_of[c.function]], above.index(c.federation), c.load, c.registered_at, c.cadre_id

    def choice(c: Candidate) -> Choice:
        return Choice(c, rule(federation, cause_of[c.function], c, above.index(c.federation)))

    return fitting, ranking, choice


def rule(federation: str, cause: str, candidate: Candidate, distance: int) -> dict[str, Any]:
    """Why this unit (the cause and the function it calls for) and why this cadre (where, how loaded)."""
    where = "the case's own federation" if distance == 0 else f"{distance} level(s) above the case's federation"
    return {
        "cause": cause,
        "function": candidate.function,
        "unit_id": candidate.unit_id,
        "cadre_federation": candidate.federation,
        "distance": distance,
        "load_before": candidate.load,
        "capacity": candidate.capacity,
        "summary": (
            f"cause {cause} calls for a {candidate.function} unit; nearest free cadre in {where} "
            f"({candidate.federation}), least loaded ({candidate.load} of {candidate.capacity}), "
            f"then earliest registered"
        ),
    }


def gap_reason(federation: str, causes: Sequence[str]) -> str:
    """Say why no one could be paired with the household."""
    functions = ", ".join(f for _, f in fitting_functions(causes))
    return f"no active cadre with free capacity in a unit of {functions} at {' or '.join(ancestors(federation))}"
