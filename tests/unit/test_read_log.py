"""The read log (查看记录): a disclosure of personal data is an event of the case, first; the trail lists it."""

import uuid
from datetime import UTC, date, datetime

import pytest

from services.audit.application import Trail
from services.contracts import Envelope
from services.eventstore import store_env
from services.intake.domain import InvalidValue
from tests.factories import opened_case
from tests.trail_flows import append, filed, opened


def test_a_disclosure_records_who_saw_the_personal_data_and_why():
    case = opened_case(federation="gs.by.bh")
    case.collect_events()
    case.disclose("核对银行卡开户信息", "li")
    [viewed] = case.collect_events()
    assert type(viewed).__qualname__ == "Case.PersonalDataViewed"
    assert (viewed.by, viewed.reason, viewed.federation) == ("li", "核对银行卡开户信息", "gs.by.bh")


@pytest.mark.parametrize("reason", ["", "   \t"])
def test_a_disclosure_without_a_reason_records_nothing(reason):
    case = opened_case()
    case.collect_events()
    with pytest.raises(InvalidValue, match="reason"):
        case.disclose(reason, "li")
    assert case.collect_events() == []


def viewed(case_id: str, by: str, reason: str, federation: str = "gs.by") -> Envelope:
    now = datetime.now(UTC)
    return Envelope(str(uuid.uuid4()), "PersonalDataViewed", 1, now, now, federation, case_id, "intake",
                    {"reason": reason, "by": by})


def test_the_trail_lists_each_read_by_subtree_and_case_with_its_entry():
    trail = Trail(store_env("memory://"))
    a, b = str(uuid.uuid4()), str(uuid.uuid4())
    append(trail, [(opened(a), None), (filed(a), None), (viewed(a, "li", "核对"), None),
                   (viewed(b, "wang", "复核", "gs.jc"), None), (viewed(a, "zhao", "发放前确认"), None)])
    reads = trail.reads("gs", None, None, 100)["reads"]
    assert [(r["index"], r["case_id"], r["by"], r["reason"]) for r in reads] == [
        (2, a, "li", "核对"), (3, b, "wang", "复核"), (4, a, "zhao", "发放前确认")]
    assert [r["by"] for r in trail.reads("gs.by", None, None, 100)["reads"]] == ["li", "zhao"]
    assert [r["by"] for r in trail.reads("gs", b, None, 100)["reads"]] == ["wang"]
    first = trail.reads("gs", None, None, 2)
    assert first["next"] == 3 and [r["index"] for r in trail.reads("gs", None, first["next"], 2)["reads"]] == [4]
    assert date.fromisoformat(reads[0]["viewed_at"][:10]) == datetime.now(UTC).date()
    trail.close()
