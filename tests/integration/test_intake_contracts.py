"""Every event intake can publish matches its registered contract, so consumers never dead-letter it."""

from datetime import UTC, date, datetime
from decimal import Decimal

from eventsourcing.persistence import Notification

from services.contracts import decode, encode
from services.eventstore import store_env
from services.intake.application import Cases, ImportedRow
from services.intake.imports import ImportJob
from services.intake.outbound import TYPES, case_event
from tests.factories import application_body, id_number


def every_kind_of_event(cases):
    body = application_body()
    body["household"]["monthly_income"] = Decimal("900")
    body["household"]["members"][0]["id_number"] = id_number()
    case_id = str(cases.open_case(opened_by="li", **body).id)
    staff = {"scope": "gs", "by": "li"}
    cases.verify(case_id, **staff, visitors=["a", "b"], visited_on=date(2025, 3, 2), per_capita_income=Decimal("600"),
                 findings="f")
    cases.deliberate(case_id, **staff, decided_on=date(2025, 3, 5), outcome="recommend", notes="")
    cases.publish_notice(case_id, **staff, starts_on=date(2025, 3, 6), days=7)
    _, objection = cases.raise_objection(case_id, "gs", objector="邻居", raised_on=date(2025, 3, 7), reason="有车")
    cases.resolve_objection(case_id, **staff, objection_id=objection, upheld=False, notes="不属实")
    cases.approve(case_id, "gs", by="wang", approved_on=date(2025, 3, 13))
    cases.review(case_id, **staff, reviewed_on=date(2026, 3, 1), findings="仍困难", still_qualifies=True)
    _, measure = cases.add_measure(case_id, **staff, kind="medical", description="救助", planned_on=date(2026, 3, 2),
                                   due_on=None)
    cases.complete_measure(case_id, **staff, measure_id=measure, done_on=date(2026, 4, 1), result="ok")
    cases.exit(case_id, **staff, reason="moved", exited_on=date(2026, 5, 1), notes="")
    cases.refile(case_id, "gs", by="wang", refiled_on=date(2026, 6, 1), reason="返困")
    household = {**body["household"], "monthly_income": Decimal("500")}
    cases.amend(case_id, **staff, changes={"household": household}, reason="失业")
    cases.disclose(case_id, "gs", by="li", reason="核对银行卡")
    for ending in (cases.reject, cases.withdraw):
        ending(str(cases.open_case(opened_by="li", **application_body()).id), **staff, reason="原因")
    imported = application_body()
    imported["household"]["monthly_income"] = Decimal("900")
    person = cases.digest(imported["worker"]["id_number"])
    row = ImportedRow(2, imported, date(2020, 1, 1), (person,))
    assert cases.file_imported([row], ImportJob("d", "gs", "f", "li"), "li") == {}


def memory_cases():
    return Cases({**store_env("memory://"), "PERSON_KEY": "k"})


def test_every_outbound_event_type_validates_against_its_contract():
    cases = memory_cases()
    every_kind_of_event(cases)
    seen = set()
    for notification in cases.recorder.select_notifications(start=None, limit=1000):
        envelope = case_event(cases, notification, datetime.now(UTC))
        if envelope is not None:
            assert decode(encode(envelope)) == envelope  # exactly what a consumer checks
            assert "federation" not in envelope.payload  # it travels in the envelope
            seen.add(envelope.type)
    assert seen == set(TYPES.values())


def without_federation(cases, notification):
    """The notification as a build from before events carried their federation would have stored it."""
    domain_event = cases.mapper.to_domain_event(notification)
    del domain_event.__dict__["federation"]
    stored = cases.mapper.to_stored_event(domain_event)
    return Notification(id=notification.id, **{f: getattr(stored, f) for f in
                                               ("originator_id", "originator_version", "topic", "state")})


def test_an_event_stored_without_its_federation_takes_it_from_the_case_index():
    cases = memory_cases()
    case = cases.open_case(opened_by="li", **application_body("gs.by.pg"))
    cases.withdraw(str(case.id), "gs", by="li", reason="搬离")
    [_, withdrawn] = cases.recorder.select_notifications(start=None, limit=10)
    now = datetime.now(UTC)
    old = case_event(cases, without_federation(cases, withdrawn), now)
    assert old is not None and old.federation == "gs.by.pg"
    assert old == case_event(cases, withdrawn, now)
