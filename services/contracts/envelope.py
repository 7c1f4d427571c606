"""Wrap every integration event in one versioned envelope so any consumer can route and verify it."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from marshmallow import Schema, ValidationError, fields, post_load, validate

from services.catalog import producers
from services.contracts.federation import FEDERATION_CODE


class InvalidEvent(Exception):
    """A message that is not a valid integration event; it belongs in the dead-letter topic."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Envelope:
    """One integration event: who produced it, about which case, when, and what happened."""

    event_id: str
    type: str
    version: int
    occurred_at: datetime
    recorded_at: datetime
    federation: str
    case_id: str
    service: str
    payload: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The envelope as JSON-ready data (what EnvelopeSchema loads back)."""
        return {
            "event_id": self.event_id,
            "type": self.type,
            "version": self.version,
            "occurred_at": self.occurred_at.isoformat(),
            "recorded_at": self.recorded_at.isoformat(),
            "federation": self.federation,
            "case_id": self.case_id,
            "service": self.service,
            "payload": self.payload,
        }


class EnvelopeSchema(Schema):
    """Validate the envelope fields every event carries, whatever its type."""

    event_id = fields.UUID(required=True)
    type = fields.String(required=True, validate=validate.Regexp(r"^[A-Z][A-Za-z]+$"))
    version = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))
    occurred_at = fields.AwareDateTime(required=True)
    recorded_at = fields.AwareDateTime(required=True)
    federation = fields.String(required=True, validate=validate.Regexp(FEDERATION_CODE))
    case_id = fields.UUID(required=True)
    service = fields.String(required=True, validate=validate.OneOf(producers()))
    payload = fields.Dict(keys=fields.String(), required=True)

    @post_load
    def make(self, data: dict[str, Any], **_: Any) -> Envelope:
        data["event_id"] = str(data["event_id"])
        data["case_id"] = str(data["case_id"])
        return Envelope(**data)


ENVELOPE = EnvelopeSchema()

# What every producer writes (canonical lowercase UUIDs, ISO 8601 times to the microsecond with an offset),
# checked without marshmallow's machinery: a consumer such as the trail's sequencer decodes thousands a
# second. Only an envelope of this exact form takes the short way; anything else is loaded by ENVELOPE,
# which decides (and words the reason). Held to ENVELOPE's result by tests/unit/test_envelope_fast.py.
_FIELDS = frozenset(EnvelopeSchema._declared_fields)
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{6})?(?:[+-]\d{2}:\d{2}|Z)")
_TYPE = re.compile(r"[A-Z][A-Za-z]+")


def _plain_envelope(data: dict[str, Any]) -> Envelope | None:
    """The envelope if `data` has the exact form producers write and is valid; None: let ENVELOPE decide."""
    if data.keys() != _FIELDS:
        return None
    event_id, case_id, kind, version = data["event_id"], data["case_id"], data["type"], data["version"]
    occurred, recorded, federation, service = data["occurred_at"], data["recorded_at"], data["federation"], \
        data["service"]
    payload = data["payload"]
    if not (type(event_id) is str and _UUID.fullmatch(event_id) and type(case_id) is str and _UUID.fullmatch(case_id)
            and type(kind) is str and _TYPE.fullmatch(kind) and type(version) is int and version >= 1
            and type(occurred) is str and _TIME.fullmatch(occurred) and type(recorded) is str
            and _TIME.fullmatch(recorded) and type(federation) is str and FEDERATION_CODE.match(federation)
            and type(service) is str and service in _PRODUCERS and type(payload) is dict
            and all(type(k) is str for k in payload)):
        return None
    try:
        occurred_at, recorded_at = datetime.fromisoformat(occurred), datetime.fromisoformat(recorded)
    except ValueError:  # e.g. a 30th of February: ENVELOPE words the reason
        return None
    return Envelope(event_id=event_id, type=kind, version=version, occurred_at=occurred_at, recorded_at=recorded_at,
                    federation=federation, case_id=case_id, service=service, payload=dict(payload))


_PRODUCERS = frozenset(producers())
EVENT_IDS = uuid5(NAMESPACE_URL, "urn:relief:event")


def event_id(originator_id: UUID, version: int) -> str:
    """The same stored event always gets the same id, so a resend is recognisable downstream."""
    return str(uuid5(EVENT_IDS, f"{originator_id}:{version}"))


def from_stored(
    domain_event: Any, *, type: str, service: str, federation: str, case_id: str, payload: dict[str, Any],
    recorded_at: datetime,
) -> Envelope:
    """The version-1 integration event of a stored domain event: its id and time come from the event."""
    return Envelope(
        event_id=event_id(domain_event.originator_id, domain_event.originator_version),
        type=type,
        version=1,
        occurred_at=domain_event.timestamp,
        recorded_at=recorded_at,
        federation=federation,
        case_id=case_id,
        service=service,
        payload=payload,
    )


@dataclass(frozen=True)
class Publication:
    """What a service publishes of its stored events: per stored event class (`Case.Filed`), the integration
    event type, the payload builder and the message key; the classes it keeps inside; every other class is
    undecided and raises, so the outbox relay stops there (`relief_outbox_stalled`) until someone decides."""

    service: str
    builders: dict[str, tuple[str, Callable[[Any], dict[str, Any]], Callable[[Any], str]]]
    internal: tuple[str, ...]

    @property
    def types(self) -> dict[str, str]:
        return {stored: published for stored, (published, _, _) in self.builders.items()}

    def of_stored(self, mapper: Any, notification: Any, now: datetime) -> Envelope | None:
        """The integration event of one stored event (a notification), or None; an internal one is told by
        its topic (`module:Class.Event`) without being decrypted and decoded."""
        if notification.topic.rpartition(":")[2] in self.internal:
            return None
        return self.of(mapper.to_domain_event(notification), now)

    def of(self, domain_event: Any, now: datetime) -> Envelope | None:
        """The integration event of one stored event, or None if it stays inside the service. The envelope's
        federation comes from the event itself: every published stored event records it."""
        name = type(domain_event).__qualname__
        found = self.builders.get(name)
        if found is None:
            if name in self.internal:
                return None
            raise LookupError(f"stored event {name} is neither published nor internal: decide which in outbound.py")
        event_type, build, key = found
        return from_stored(domain_event, type=event_type, service=self.service, federation=domain_event.federation,
                           case_id=key(domain_event), payload=build(domain_event), recorded_at=now)


def encode(envelope: Envelope, check: bool = False) -> bytes:
    """Serialise an envelope; with `check`, first validate its payload against the event's schema.

    Producers skip the check on their hot path: every consumer validates on decode and dead-letters
    what fails, and tests validate every event type each producer can emit.
    """
    from services.contracts.registry import contract_for

    if check:
        errors = contract_for(envelope.type, envelope.version).errors(envelope.payload)
        if errors:
            raise InvalidEvent(f"payload of {envelope.type} v{envelope.version}: {errors}")
    return json.dumps(envelope.to_dict(), ensure_ascii=False, sort_keys=True).encode()


def decode(raw: bytes | None) -> Envelope:
    """Parse and validate a message, raising InvalidEvent with the reason if it is not one."""
    from services.contracts.registry import contract_for

    if raw is None:
        raise InvalidEvent("empty message")
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidEvent(f"not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidEvent("not a JSON object")
    envelope = _plain_envelope(data)
    if envelope is None:
        try:
            envelope = ENVELOPE.load(data)
        except ValidationError as exc:
            raise InvalidEvent(f"envelope: {exc.messages}") from None
    try:
        errors = contract_for(envelope.type, envelope.version).errors(envelope.payload)
    except KeyError as exc:
        raise InvalidEvent(str(exc.args[0])) from None
    if errors:
        raise InvalidEvent(f"payload of {envelope.type} v{envelope.version}: {errors}")
    return envelope
