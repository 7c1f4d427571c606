"""Look up the schema of an integration event by its type and version."""

from __future__ import annotations

from dataclasses import dataclass, field

from marshmallow import Schema

from services.contracts import intake_events


@dataclass(frozen=True)
class Contract:
    """One published event type at one schema version, and the service that owns it."""

    name: str
    version: int
    service: str
    schema: type[Schema]
    validator: Schema = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "validator", self.schema())


CONTRACTS: dict[tuple[str, int], Contract] = {
    (name, 1): Contract(name, 1, "intake", schema) for name, schema in intake_events.SCHEMAS.items()
}


def contract_for(event_type: str, version: int) -> Contract:
    """Return the contract, or raise KeyError naming the unknown type and version."""
    try:
        return CONTRACTS[(event_type, version)]
    except KeyError:
        raise KeyError(f"unknown event type {event_type!r} version {version}") from None
