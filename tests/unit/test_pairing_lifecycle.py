"""A household's pairing from filing to exit (不达目标不脱钩): hand-overs, re-filing, overrides, batches."""

import itertools
from datetime import UTC, date, datetime, timedelta
from uuid import uuid4

import pytest

from services.contracts import Envelope, EventRefused
from services.contracts.pairing_events import SCHEMAS
from services.eventstore.unit import UnitOfWork
from services.pairing.application import CapacityFull, OutsideSubtree
from services.pairing.domain import IllegalTransition
from tests.factories import PAIRING_TODAY

TODAY = PAIRING_TODAY
_users = itertools.count(1)
_moments = itertools.count(1)




def unit(app, function="health", federation="gs"):
    return str(app.register_unit(name=f"{function} 局", function=function, federation=federation, scope="gs",
                                 by="admin").id)


def cadre(app, unit_id, federation="gs.by", rank="staff"):
    return str(app.register_cadre(name="王芳", unit_id=unit_id, rank=rank, federation=federation,
                                  phone="13912345678", user=f"cadre{next(_users)}", scope="gs", by="admin").id)


def moment():
    return datetime(2026, 3, 1, tzinfo=UTC) + timedelta(seconds=next(_moments))


def filed(app, federation="gs.by", causes=("illness",), filed_on=date(2026, 3, 1)):
    case_id = str(uuid4())
    app.case_opened(case_id, federation, category="subsistence", causes=list(causes), occurred_at=moment(),
                    event_id=str(uuid4()))
    app.case_filed(case_id, federation, filed_on=filed_on, occurred_at=moment(), event_id=str(uuid4()))
    return case_id


def pairing(app, case_id):
    return app.get_pairing(case_id, "gs")


def load(app, cadre_id):
    return next(c["load"] for c in app.cadres("gs") if c["cadre_id"] == cadre_id)


def test_a_filed_household_is_paired_with_a_fitting_cadre_and_the_rule_is_kept(pairings):
    doctor = cadre(pairings, unit(pairings, "health"))
    cadre(pairings, unit(pairings, "education"))
    case = pairing(pairings, filed(pairings, causes=["illness", "education"]))
    assert (case.status, case.cadre_id) == ("active", doctor)
    assert case.contact.startswith("cadre")
    assert case.history[-1]["rule"]["cause"] == "illness"
    assert case.history[-1]["rule"]["trigger"] == "filing"
    assert case.assigned_on == "2026-03-01"


def test_when_every_cadre_is_full_the_household_is_uncovered_with_the_reason(pairings):
    cadre(pairings, unit(pairings))
    filed(pairings)
    waiting = pairing(pairings, filed(pairings))
    assert waiting.status == "uncovered"
    assert "no active cadre with free capacity" in waiting.gap
    assert [r["case_id"] for r in pairings.uncovered("gs")] == [waiting.case_id]


def test_an_exit_ends_the_pairing_and_pairs_the_oldest_uncovered_household_that_fits(pairings):
    doctor = cadre(pairings, unit(pairings))
    first = filed(pairings, filed_on=date(2026, 3, 1))
    later = filed(pairings, filed_on=date(2026, 3, 9))
    older = filed(pairings, filed_on=date(2026, 3, 5))
    pairings.case_exited(first, "gs.by", reason="stable_employment", exited_on=date(2026, 6, 1), occurred_at=moment())
    ended = pairing(pairings, first)
    assert (ended.status, ended.history[-1]["reason"]) == ("ended", "stable_employment")
    assert pairing(pairings, older).cadre_id == doctor
    assert pairing(pairings, older).history[-1]["rule"]["trigger"].startswith("capacity appeared")
    assert pairing(pairings, later).status == "uncovered"
    assert load(pairings, doctor) == 1


def test_a_retired_cadre_s_households_are_handed_over(pairings):
    health = unit(pairings)
    leaving = cadre(pairings, health, rank="leader")
    households = [filed(pairings), filed(pairings)]
    staying = cadre(pairings, health, rank="leader")
    pairings.retire_cadre(leaving, "gs", retired_on=date(2026, 9, 1), reason="调离", by="admin")
    for case_id in households:
        case = pairing(pairings, case_id)
        assert case.cadre_id == staying
        assert case.history[-1]["event"] == "reassigned"
        assert case.history[-1]["from_cadre_id"] == leaving
        assert "retired: 调离" in case.history[-1]["reason"]
    assert (load(pairings, leaving), load(pairings, staying)) == (0, 2)


def test_a_retired_cadre_s_household_with_no_one_free_is_uncovered_and_waits(pairings):
    health = unit(pairings)
    leaving = cadre(pairings, health)
    case_id = filed(pairings)
    pairings.retire_cadre(leaving, "gs", retired_on=date(2026, 9, 1), reason="退休", by="admin")
    assert pairing(pairings, case_id).status == "uncovered"
    assert "retired" in pairing(pairings, case_id).gap
    newcomer = cadre(pairings, health)
    assert pairing(pairings, case_id).cadre_id == newcomer


def test_a_re_filed_household_is_paired_again(pairings):
    doctor = cadre(pairings, unit(pairings))
    case_id = filed(pairings)
    pairings.case_exited(case_id, "gs.by", reason="income_above_line", exited_on=date(2026, 6, 1),
                         occurred_at=moment())
    pairings.case_refiled(case_id, "gs.by", refiled_on=date(2026, 9, 1), occurred_at=moment())
    case = pairing(pairings, case_id)
    assert (case.status, case.cadre_id, case.assigned_on) == ("active", doctor, "2026-09-01")
    assert [h["event"] for h in case.history] == ["assigned", "ended", "assigned"]


def test_a_rejected_or_withdrawn_case_is_never_paired(pairings):
    case_id = str(uuid4())
    pairings.case_opened(case_id, "gs.by", category="marginal", causes=["illness"], occurred_at=moment())
    pairings.case_closed(case_id, "gs.by", reason="rejected: 收入超标", occurred_at=moment())
    cadre(pairings, unit(pairings))
    assert pairing(pairings, case_id).status == "unpaired"
    with pytest.raises(IllegalTransition):
        pairings.case_filed(case_id, "gs.by", filed_on=date(2026, 3, 1), occurred_at=moment())


def test_an_amended_household_keeps_its_pairing(pairings):
    doctor = cadre(pairings, unit(pairings))
    case_id = filed(pairings)
    pairings.case_amended(case_id, "gs.by", causes=["education"], category=None, occurred_at=moment())
    case = pairing(pairings, case_id)
    assert (case.causes, case.cadre_id) == (["education"], doctor)


def test_raised_capacity_pairs_waiting_households_oldest_first(pairings):
    doctor = cadre(pairings, unit(pairings))
    filed(pairings, filed_on=date(2026, 3, 1))
    newer = filed(pairings, filed_on=date(2026, 3, 20))
    older = filed(pairings, filed_on=date(2026, 3, 10))
    pairings.set_capacity("gs.by", "gs", leader=2, staff=2, by="admin")
    assert pairing(pairings, older).cadre_id == doctor
    assert pairing(pairings, newer).status == "uncovered"


def test_the_nearest_ancestor_s_capacity_applies(pairings):
    pairings.set_capacity("gs", "gs", leader=5, staff=3, by="admin")
    pairings.set_capacity("gs.by", "gs", leader=2, staff=2, by="admin")
    health = unit(pairings)
    city, county = cadre(pairings, health, "gs.by"), cadre(pairings, health, "gs.ln")
    capacities = {c["cadre_id"]: c["capacity"] for c in pairings.cadres("gs")}
    assert (capacities[city], capacities[county]) == (2, 3)


def test_an_override_moves_the_household_within_capacity(pairings):
    health = unit(pairings)
    first = cadre(pairings, health)
    case_id = filed(pairings)
    second = cadre(pairings, health)
    pairings.override(case_id, "gs.by", cadre_id=second, contact="李联系", reason="住得近", by="coordinator")
    case = pairing(pairings, case_id)
    assert (case.cadre_id, case.contact, case.history[-1]["from_cadre_id"]) == (second, "李联系", first)
    assert (load(pairings, first), load(pairings, second)) == (0, 1)
    other = filed(pairings)  # first is free again and takes it
    with pytest.raises(CapacityFull):
        pairings.override(other, "gs", cadre_id=second, contact=None, reason="x", by="coordinator")


def test_an_override_never_crosses_federation_subtrees(pairings):
    health = unit(pairings)
    cadre(pairings, health, "gs.by")
    case_id = filed(pairings, "gs.by")
    elsewhere, below = cadre(pairings, health, "gs.ln"), cadre(pairings, health, "gs.by.pg")
    for cadre_id in (elsewhere, below):
        with pytest.raises(OutsideSubtree):
            pairings.override(case_id, "gs", cadre_id=cadre_id, contact=None, reason="x", by="coordinator")


def envelope(event_type, case_id, payload, event_id=None):
    now = datetime(2026, 3, 1, tzinfo=UTC)
    return Envelope(event_id or str(uuid4()), event_type, 1, now, now, "gs.by", case_id, "intake", payload)


def test_intake_events_are_applied_by_type_and_a_resend_changes_nothing(pairings):
    doctor = cadre(pairings, unit(pairings))
    case_id = str(uuid4())
    pairings.apply_intake_event(envelope("CaseOpened", case_id, {"category": "subsistence", "causes": ["illness"]}))
    pairings.apply_intake_event(envelope("CaseVerified", case_id, {}))
    filing = envelope("CaseFiled", case_id, {"filed_on": "2026-03-13"})
    pairings.apply_intake_event(filing)
    pairings.apply_intake_event(filing)
    case = pairing(pairings, case_id)
    assert (case.cadre_id, len(case.history), case.periods[0]["filed_on"]) == (doctor, 1, "2026-03-13")


def test_an_imported_filed_case_is_paired_from_its_opening(pairings):
    doctor = cadre(pairings, unit(pairings))
    case_id = str(uuid4())
    pairings.apply_intake_event(envelope("CaseOpened", case_id, {
        "category": "subsistence", "causes": ["illness"],
        "imported": {"filed_on": "2025-11-02", "import_id": "i", "row": 2}}))
    assert pairing(pairings, case_id).cadre_id == doctor


def test_in_one_batch_a_later_event_sees_the_slots_earlier_ones_took(pairings):
    cadre(pairings, unit(pairings), rank="leader")
    unit_of_work = UnitOfWork()
    pairings.bind(unit_of_work)
    cases = [filed(pairings) for _ in range(3)]
    pairings.bind(None)
    assert pairings.coverage("gs")["paired"] == 0  # nothing is stored before the batch commits
    pairings.commit(unit_of_work.events, unit_of_work.index, [])
    assert [pairing(pairings, c).status for c in cases] == ["active", "active", "uncovered"]
    found = pairings.coverage("gs")
    assert (found["filed"], found["paired"], found["uncovered"], found["cadre_loads"]) == (3, 2, 1, {"2": 1})


def test_an_intake_event_about_an_unknown_case_or_out_of_order_is_refused_with_the_reason(pairings):
    with pytest.raises(EventRefused, match="no case"):
        pairings.apply_intake_event(envelope("CaseExited", str(uuid4()), {
            "reason": "moved", "exited_on": "2026-05-01", "notes": "", "by": "li"}))
    case_id = str(uuid4())
    pairings.apply_intake_event(envelope("CaseOpened", case_id, {"category": "subsistence", "causes": ["illness"]}))
    pairings.apply_intake_event(envelope("CaseWithdrawn", case_id, {"reason": "moved", "by": "li"}))
    with pytest.raises(EventRefused, match="cannot file"):
        pairings.apply_intake_event(envelope("CaseFiled", case_id, {"filed_on": "2026-03-13"}))


def test_an_exit_and_the_pairing_it_makes_possible_are_stored_together(pairings):
    cadre(pairings, unit(pairings))
    first, waiting = filed(pairings), filed(pairings)
    pairings.case_exited(first, "gs.by", reason="moved", exited_on=date(2026, 6, 1), occurred_at=moment())
    found = pairings.coverage("gs")
    assert (found["filed"], found["paired"], found["uncovered"], found["cadre_loads"]) == (1, 1, 0, {"1": 1})
    assert pairing(pairings, waiting).slot == pairing(pairings, first).history[0]["cadre_id"] + ":0"


PUBLISHED = {
    "Pairing.Assigned": "PairingAssigned", "Pairing.Reassigned": "PairingReassigned", "Pairing.Ended": "PairingEnded",
    "Pairing.CoverageGap": "CoverageGap", "Pairing.VisitRecorded": "VisitRecorded",
    "Unit.Registered": "UnitRegistered", "Cadre.Registered": "CadreRegistered", "Cadre.Retired": "CadreRetired",
}


def contract_payload(domain_event, schema):
    """What an outbound builder would publish, field by field, from the domain event alone."""
    phone = getattr(domain_event, "phone", "")
    derived = {"unit_id": str(domain_event.originator_id), "cadre_id": str(domain_event.originator_id),
               "phone_masked": phone[:3] + "****" + phone[-4:]}
    return {name: getattr(domain_event, name) if hasattr(domain_event, name) else derived[name]
            for name in schema().fields}


def test_every_event_carries_its_federation_and_published_ones_fill_their_contracts(pairings):
    health = unit(pairings)
    leaving = cadre(pairings, health, rank="leader")
    case_id = filed(pairings)
    filed(pairings)
    cadre(pairings, health, rank="leader")
    filed(pairings)
    pairings.retire_cadre(leaving, "gs", retired_on=date(2026, 9, 1), reason="调离", by="admin")
    pairings.record_visit(case_id, "gs", role="caseworker", user="li", visited_on=date(2026, 9, 2), kind="routine",
                          findings="ok", problems_solved="", measures="", next_steps="")
    pairings.case_exited(case_id, "gs.by", reason="moved", exited_on=date(2026, 10, 1), occurred_at=moment())
    seen = set()
    for notification in pairings.recorder.select_notifications(1, 1000):
        domain_event = pairings.mapper.to_domain_event(notification)
        name = type(domain_event).__qualname__
        assert domain_event.federation in ("gs", "gs.by"), name
        if name.startswith("Pairing."):
            assert domain_event.case_id, name
        if name in PUBLISHED:
            seen.add(name)
            schema = SCHEMAS[PUBLISHED[name]]
            payload = contract_payload(domain_event, schema)
            assert schema().validate(payload) == {}, (name, payload)
            assert "13912345678" not in str(payload)
    assert seen == set(PUBLISHED)


def test_a_new_cadre_pairs_the_oldest_waiting_household_it_fits_and_leaves_the_others_waiting(pairings):
    ill = filed(pairings, causes=["illness"], filed_on=date(2026, 3, 1))
    schooling = filed(pairings, causes=["education"], filed_on=date(2026, 3, 5))
    later_schooling = filed(pairings, causes=["education"], filed_on=date(2026, 3, 9))
    teacher = cadre(pairings, unit(pairings, "education"))
    assert pairing(pairings, schooling).cadre_id == teacher
    assert [r["case_id"] for r in pairings.uncovered("gs")] == [ill, later_schooling]


def test_a_slot_an_override_frees_goes_to_the_oldest_waiting_household(pairings):
    doctor = cadre(pairings, unit(pairings, "health"))
    moved = filed(pairings, filed_on=date(2026, 3, 1))
    waiting = filed(pairings, filed_on=date(2026, 3, 2))
    teacher = cadre(pairings, unit(pairings, "education"))  # fits no waiting household: nobody moves
    assert pairing(pairings, waiting).status == "uncovered"
    pairings.override(moved, "gs", cadre_id=teacher, contact=None, reason="子女就学为主", by="coordinator")
    assert pairing(pairings, moved).cadre_id == teacher
    assert pairing(pairings, waiting).cadre_id == doctor
    assert pairing(pairings, waiting).history[-1]["rule"]["trigger"].startswith("capacity appeared: case")
