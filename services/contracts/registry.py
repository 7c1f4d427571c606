"""Look up the schema of an integration event by its type and version."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import import_module
from typing import Any

from marshmallow import Schema

from services.catalog import SERVICES
from services.contracts.quick import quick_check


@dataclass(frozen=True)
class Contract:
    """One published event type at one schema version, and the service that owns it."""

    name: str
    version: int
    service: str
    schema: type[Schema]
    validator: Schema = field(init=False, repr=False, compare=False)
    quick: Callable[[Any], bool] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "validator", self.schema())
        object.__setattr__(self, "quick", quick_check(self.validator))

    def errors(self, payload: Any) -> dict[str, Any]:
        """The payload's errors by field, empty if the contract accepts it (quick.py's yes, else marshmallow's)."""
        if self.quick is not None and self.quick(payload):
            return {}
        errors: dict[str, Any] = self.validator.validate(payload)
        return errors


def _contracts() -> dict[tuple[str, int], Contract]:
    """Every producing service's contracts module declares SCHEMAS: event type -> schema (version 1)."""
    found: dict[tuple[str, int], Contract] = {}
    for service in SERVICES:
        if service.contracts is None:
            continue
        for name, schema in import_module(service.contracts).SCHEMAS.items():
            if (name, 1) in found:
                raise RuntimeError(f"event type {name} is declared by {found[(name, 1)].service} and {service.name}")
            found[(name, 1)] = Contract(name, 1, service.name, schema)
    return found


CONTRACTS: dict[tuple[str, int], Contract] = _contracts()


def contract_for(event_type: str, version: int) -> Contract:
    """Return the contract, or raise KeyError naming the unknown type and version."""
    try:
        return CONTRACTS[(event_type, version)]
    except KeyError:
        raise KeyError(f"unknown event type {event_type!r} version {version}") from None
