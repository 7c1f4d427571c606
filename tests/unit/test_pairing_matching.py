"""Matching a household with a unit and a cadre (结对匹配): causes, nearest federation, load, capacity."""

from services.contracts.federation import ancestors
from services.pairing.matching import Candidate, choices, fitting_functions, gap_reason, ranked_causes


def cadre(cadre_id, function="health", federation="gs.by.pg", load=0, capacity=2, registered_at="2026-01-01"):
    return Candidate(cadre_id, f"unit-{function}", function, federation, registered_at, load, capacity)


def chosen(federation, causes, *candidates):
    return [c.candidate.cadre_id for c in choices(federation, causes, candidates)]


def test_illness_and_disability_call_for_health_or_medical_insurance():
    assert fitting_functions(["illness"]) == [("illness", "health"), ("illness", "medical_insurance")]
    assert fitting_functions(["disability"]) == [("disability", "health"), ("disability", "medical_insurance")]


def test_each_cause_calls_for_its_function():
    assert fitting_functions(["education"]) == [("education", "education")]
    assert fitting_functions(["unemployment"]) == [("unemployment", "employment")]
    assert fitting_functions(["low_income"]) == [("low_income", "employment")]
    assert fitting_functions(["disaster"]) == [("disaster", "housing")]
    assert fitting_functions(["accident"]) == [("accident", "union"), ("accident", "civil_affairs")]


def test_an_unknown_or_missing_cause_goes_to_the_union_or_civil_affairs():
    assert fitting_functions(["legal"]) == [("other", "union"), ("other", "civil_affairs")]
    assert fitting_functions([]) == [("other", "union"), ("other", "civil_affairs")]


def test_several_causes_are_taken_most_pressing_first():
    assert ranked_causes(["low_income", "education", "illness"]) == ["illness", "education", "low_income"]
    assert chosen("gs.by.pg", ["low_income", "illness"], cadre("emp", "employment"), cadre("doc", "health")) == [
        "doc", "emp"]


def test_the_cause_that_chose_and_the_cadre_are_in_the_rule():
    [best, *_] = choices("gs.by.pg", ["education", "illness"], [cadre("doc", "health", "gs.by", load=1)])
    assert best.rule["cause"] == "illness"
    assert best.rule["function"] == "health"
    assert best.rule["distance"] == 1
    assert best.rule["load_before"] == 1
    assert "least loaded (1 of 2)" in best.rule["summary"]


def test_a_unit_of_another_function_never_fits():
    assert chosen("gs.by.pg", ["education"], cadre("doc", "health")) == []


def test_the_case_s_own_federation_comes_before_its_parent_and_the_province():
    found = chosen("gs.by.pg", ["illness"], cadre("prov", federation="gs"), cadre("city", federation="gs.by"),
                   cadre("county", federation="gs.by.pg"))
    assert found == ["county", "city", "prov"]
    assert ancestors("gs.by.pg") == ["gs.by.pg", "gs.by", "gs"]


def test_a_cadre_below_or_beside_the_case_s_federation_never_serves_it():
    assert chosen("gs.by", ["illness"], cadre("below", federation="gs.by.pg"), cadre("beside", federation="gs.ln"),
                  cadre("lookalike", federation="gs.byx")) == []


def test_the_least_loaded_cadre_comes_first_then_the_earliest_registered():
    found = chosen("gs.by", ["illness"], cadre("busy", federation="gs.by", load=1),
                   cadre("late", federation="gs.by", registered_at="2026-02-01"),
                   cadre("early", federation="gs.by", registered_at="2026-01-15"))
    assert found == ["early", "late", "busy"]


def test_nearer_federation_wins_over_lighter_load():
    assert chosen("gs.by", ["illness"], cadre("near", federation="gs.by", load=1), cadre("far", federation="gs")) == [
        "near", "far"]


def test_a_full_cadre_is_no_candidate_and_when_all_are_full_the_gap_says_why():
    assert chosen("gs.by", ["illness"], cadre("full", federation="gs.by", load=2, capacity=2)) == []
    assert chosen("gs.by", ["illness"], cadre("none", federation="gs.by", load=0, capacity=0)) == []
    reason = gap_reason("gs.by", ["illness"])
    assert "health, medical_insurance" in reason
    assert "gs.by or gs" in reason
