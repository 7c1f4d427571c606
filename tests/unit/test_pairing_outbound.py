"""Pairing's integration events are built field by field from its stored events, as intake's are.

Every published type fills exactly its v1 schema, travels with the federation and case id (or, for the
roster, the unit's or cadre's own id) its domain event recorded, never shows a phone in the clear, and
gets the same event id each time the same stored event is built; internal events give None.
"""

import re
from datetime import UTC, date, datetime
from uuid import UUID, uuid4

import pytest

from services.contracts import EnvelopeSchema, encode
from services.contracts.envelope import event_id as intake_event_id
from services.contracts.federation import FEDERATION_CODE
from services.contracts.pairing_events import SCHEMAS, Rule
from services.pairing.domain import Pairing
from services.pairing.outbound import BUILDERS, INTERNAL, TYPES, pairing_event
from tests.factories import PAIRING_TODAY
from tests.unit.test_pairing_lifecycle import filed, moment, unit

TODAY = PAIRING_TODAY
PHONES = ("13912345678", "18600001111", "15877776666", "13355554444")
MOBILE = re.compile(rb"(?<!\d)1\d{10}(?!\d)")  # an 11-digit mobile number anywhere in the bytes




def cadre(app, unit_id, phone, rank="leader", federation="gs.by"):
    return str(app.register_cadre(name="王芳", unit_id=unit_id, rank=rank, federation=federation, phone=phone,
                                  user=f"cadre{phone[-4:]}", scope="gs", by="admin").id)


def every_kind_of_event(app):
    """Register, pair, run out of capacity, hand over on a retirement, visit, exit, close, amend, set capacity."""
    health = unit(app, "health")
    leaving = cadre(app, health, PHONES[0])  # a leader: 2 households
    visited = filed(app)
    filed(app)
    filed(app)  # no free slot: CoverageGap
    cadre(app, health, PHONES[1], rank="staff")  # capacity appears: the waiting household is paired
    cadre(app, health, PHONES[2])  # free slots for the hand-over
    app.retire_cadre(leaving, "gs", retired_on=date(2026, 9, 1), reason="调离", by="admin")  # Reassigned x2
    app.record_visit(visited, "gs", role="caseworker", user="li", visited_on=date(2026, 9, 2), kind="routine",
                     findings="生活稳定", problems_solved="医保报销", measures="", next_steps="下季回访")
    app.case_exited(visited, "gs.by", reason="stable_employment", exited_on=date(2026, 10, 1), occurred_at=moment())
    withdrawn = str(uuid4())
    app.case_opened(withdrawn, "gs.by", category="marginal", causes=["illness"], occurred_at=moment(),
                    event_id=str(uuid4()))
    app.case_closed(withdrawn, "gs.by", reason="withdrawn: 搬离", occurred_at=moment(), event_id=str(uuid4()))
    amended = filed(app, causes=["education"])  # no education unit: a second CoverageGap
    app.case_amended(amended, "gs.by", causes=["illness"], category=None, occurred_at=moment(), event_id=str(uuid4()))
    cadre(app, health, PHONES[3], rank="staff", federation="gs.by.pg")  # a cadre registered in a subtree
    app.set_capacity("gs", "gs", leader=3, staff=1, by="admin")


def stored(app):
    """Every stored event with its notification, as the outbox relay reads them."""
    return [(n, app.mapper.to_domain_event(n)) for n in app.process_recorder.select_notifications(start=None,
                                                                                                  limit=1000)]


@pytest.fixture
def events(pairings):
    every_kind_of_event(pairings)
    return stored(pairings)


def test_every_published_type_validates_against_its_schema_with_exactly_its_fields(pairings, events):
    now = datetime.now(UTC)
    seen = set()
    for notification, _ in events:
        envelope = pairing_event(pairings, notification, now)
        if envelope is None:
            continue
        schema = SCHEMAS[envelope.type]
        assert schema().validate(envelope.payload) == {}, (envelope.type, envelope.payload)
        assert set(envelope.payload) == set(schema().fields), envelope.type  # no extra key leaks
        if "rule" in envelope.payload:
            assert set(envelope.payload["rule"]) <= set(Rule().fields)
            assert "slot" not in envelope.payload
        assert "federation" not in envelope.payload  # it travels in the envelope
        seen.add(envelope.type)
    assert seen == set(SCHEMAS) == set(TYPES.values())


def test_the_envelope_carries_what_the_domain_event_recorded(pairings, events):
    now = datetime.now(UTC)
    without_service = EnvelopeSchema(exclude=("service",))  # the catalog does not list pairing's producer yet
    case_ids = {e.case_id for _, e in events if type(e).__qualname__.startswith("Pairing.")}
    for notification, domain_event in events:
        envelope = pairing_event(pairings, notification, now)
        if envelope is None:
            continue
        name = type(domain_event).__qualname__
        data = envelope.to_dict()
        assert without_service.validate({k: v for k, v in data.items() if k != "service"}) == {}, name
        assert envelope.service == "pairing"
        assert envelope.version == 1
        assert envelope.type == TYPES[name]
        assert envelope.occurred_at == domain_event.timestamp and envelope.occurred_at.tzinfo is not None
        assert envelope.recorded_at == now
        assert envelope.federation == domain_event.federation and re.fullmatch(FEDERATION_CODE, envelope.federation)
        assert UUID(envelope.event_id) and UUID(envelope.case_id)
        if name.startswith("Pairing."):  # the case, never the pairing aggregate's own id
            assert envelope.case_id == domain_event.case_id
            assert envelope.case_id != str(domain_event.originator_id)
            assert domain_event.originator_id == Pairing.create_id(envelope.case_id)
        else:  # a roster event: keyed by the unit's or cadre's own id (decisions.md, "Pairing")
            assert envelope.case_id == str(domain_event.originator_id)
            assert envelope.case_id not in case_ids
            own = "unit_id" if name.startswith("Unit.") else "cadre_id"
            assert envelope.payload[own] == envelope.case_id


def test_a_roster_event_keeps_the_cadre_or_unit_and_its_own_federation(pairings, events):
    envelopes = [pairing_event(pairings, n, datetime.now(UTC)) for n, _ in events]
    cadres = [e for e in envelopes if e is not None and e.type == "CadreRegistered"]
    assert [e.federation for e in cadres] == ["gs.by", "gs.by", "gs.by", "gs.by.pg"]
    [retired] = [e for e in envelopes if e is not None and e.type == "CadreRetired"]
    assert retired.case_id == cadres[0].case_id  # registration and retirement share a key, so stay in order
    assert retired.payload == {"cadre_id": cadres[0].case_id, "retired_on": "2026-09-01", "reason": "调离",
                               "by": "admin"}
    [registered_unit] = [e for e in envelopes if e is not None and e.type == "UnitRegistered"]
    assert registered_unit.federation == "gs" and registered_unit.payload["function"] == "health"
    assert cadres[0].payload["unit_id"] == registered_unit.case_id


def test_no_phone_number_leaves_in_the_clear(pairings, events):
    now = datetime.now(UTC)
    masked = []
    for notification, _ in events:
        envelope = pairing_event(pairings, notification, now)
        if envelope is None:
            continue
        raw = encode(envelope)
        for phone in PHONES:
            assert phone.encode() not in raw, envelope.type
        assert not MOBILE.search(raw), envelope.type
        if envelope.type == "CadreRegistered":
            assert "phone" not in envelope.payload
            masked.append(envelope.payload["phone_masked"])
    assert masked == ["139****5678", "186****1111", "158****6666", "133****4444"]


def test_the_same_stored_event_always_gets_the_same_event_id(pairings, events):
    first = [pairing_event(pairings, n, datetime(2026, 12, 1, tzinfo=UTC)) for n, _ in events]
    again = [pairing_event(pairings, n, datetime(2026, 12, 2, tzinfo=UTC)) for n, _ in stored(pairings)]
    ids = [e.event_id for e in first if e is not None]
    assert ids == [e.event_id for e in again if e is not None]  # a resend carries the same id
    assert len(set(ids)) == len(ids)  # and distinct stored events never share one
    for (_, domain_event), envelope in zip(events, first, strict=True):
        if envelope is not None:  # derived as intake derives its own: uuid5 of (aggregate id, version)
            assert envelope.event_id == intake_event_id(domain_event.originator_id, domain_event.originator_version)


def test_internal_events_give_none(pairings, events):
    now = datetime.now(UTC)
    internal = {type(e).__qualname__ for n, e in events if pairing_event(pairings, n, now) is None}
    assert internal == set(INTERNAL)
    assert not internal & set(BUILDERS)


def test_an_attribute_added_to_a_domain_event_never_reaches_the_payload(events):
    registered = next(e for _, e in events if type(e).__qualname__ == "Cadre.Registered")
    _, build, _ = BUILDERS["Cadre.Registered"]
    before = build(registered)
    registered.__dict__["internal_note"] = "kept inside pairing"
    assert build(registered) == before
    assert "function" not in before and registered.function == "health"  # recorded on the cadre, not published


def test_a_stored_event_neither_published_nor_internal_stops_the_relay(pairings, events, monkeypatch):
    notification, _ = events[0]

    class Unheard:
        pass

    monkeypatch.setattr(pairings.mapper, "to_domain_event", lambda n: Unheard())
    with pytest.raises(LookupError, match="neither published nor internal"):
        pairing_event(pairings, notification, datetime.now(UTC))
