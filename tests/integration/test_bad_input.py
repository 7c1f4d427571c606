"""Bad input through the real HTTP entrypoint gets a clear 4xx naming the field, never a 500 or silent acceptance."""

import http.client
import json
import re
import time
from urllib.parse import urlsplit

import pytest
import requests

from services.config import MAX_BODY_BYTES
from tests.factories import WORKFLOW, application_body


def post_raw(system, path, data, token_client, headers=None):
    return token_client.session.post(system.url("intake") + path, data=data, timeout=10,
                                     headers={"Content-Type": "application/json", **(headers or {})})


def assert_400_naming(response, field):
    assert response.status_code == 400, response.text
    error = response.json()
    assert error["error"] == "bad_request"
    node = error["fields"]
    for part in re.findall(r"[^.\[\]]+", field):
        node = node[part]
    assert node, error
    return error


def raw_post(system, staff, **headers):
    """An HTTP connection with POST /cases and its headers sent, and the body left to the test."""
    address = urlsplit(system.url("intake"))
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=10)
    connection.putrequest("POST", "/cases")
    connection.putheader("Authorization", staff.session.headers["Authorization"])
    connection.putheader("Content-Type", "application/json")
    for name, value in headers.items():
        connection.putheader(name.replace("_", "-"), value)
    connection.endheaders()
    return connection


def test_a_body_over_the_limit_is_a_413_before_it_is_parsed(system, staff):
    body = b'{"x": "' + b"a" * MAX_BODY_BYTES + b'"}'
    response = post_raw(system, "/cases", body, staff)
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"


def test_a_declared_length_over_the_limit_is_refused_without_reading_the_body(system, staff):
    connection = raw_post(system, staff, Content_Length=str(50 * MAX_BODY_BYTES))  # and no body at all
    response = connection.getresponse()
    assert response.status == 413
    assert response.getheader("Connection") == "close"
    connection.close()


def test_a_chunked_body_over_the_limit_is_read_no_further_than_the_limit(system, staff):
    connection = raw_post(system, staff, Transfer_Encoding="chunked")
    chunk = b"[" * (MAX_BODY_BYTES + 1)
    connection.send(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")  # no last chunk: it never ends
    response = connection.getresponse()
    assert response.status == 413
    connection.close()


def test_a_body_arriving_slowly_does_not_hold_up_other_requests(system, staff):
    slow = raw_post(system, staff, Content_Length="1000")
    slow.send(b'{"federation": ')  # and the rest is late
    started = time.perf_counter()
    assert staff.get("/cases").status_code == 200
    assert requests.get(system.url("intake") + "/health", timeout=5).status_code == 200
    assert time.perf_counter() - started < 2
    slow.close()


def test_a_small_chunked_body_is_read(system, staff):
    def chunks():
        yield json.dumps(application_body()).encode()

    response = staff.session.post(system.url("intake") + "/cases", data=chunks(), timeout=10,
                                  headers={"Content-Type": "application/json"})
    assert response.status_code == 201, response.text


def test_json_nested_deeper_than_32_is_a_400(system, staff):
    deep = b'{"worker": ' + b"[" * 1000 + b"]" * 1000 + b"}"
    response = post_raw(system, "/cases", deep, staff)
    assert response.status_code == 400, response.text
    assert "deeper than 32" in response.json()["message"]
    just_too_deep = b'{"worker": ' + b"[" * 32 + b"]" * 32 + b"}"
    assert "deeper than 32" in post_raw(system, "/cases", just_too_deep, staff).json()["message"]


def test_a_body_of_many_values_is_refused_before_it_is_loaded(system, staff):
    body = application_body()
    body["household"]["members"] = [{}] * 100_000  # loading each would keep the server busy for seconds
    started = time.perf_counter()
    response = staff.post("/cases", body)
    assert response.status_code == 400
    assert "more than 5000 values" in response.json()["message"]
    assert time.perf_counter() - started < 2


def test_a_list_longer_than_its_limit_is_refused_without_loading_its_items(staff):
    body = application_body()
    body["household"]["members"] = body["household"]["members"] * 16
    error = assert_400_naming(staff.post("/cases", body), "household.members")
    assert error["fields"]["household"]["members"] == ["at most 30 items"]


def test_a_lone_surrogate_is_a_400_naming_the_field(system, staff):
    body = json.dumps(application_body(), ensure_ascii=False).replace('"张伟"', '"\\ud800"').encode()
    error = assert_400_naming(post_raw(system, "/cases", body, staff), "worker.name")
    assert "surrogate" in error["message"]


def test_a_lone_surrogate_in_raw_utf8_is_a_400(system, staff):
    body = json.dumps(application_body(), ensure_ascii=False).encode().replace("张伟".encode(), b"\xed\xa0\x80")
    assert_400_naming(post_raw(system, "/cases", body, staff), "worker.name")


def test_a_pair_of_surrogates_is_one_character_and_fine(system, staff):
    body = json.dumps(application_body(), ensure_ascii=False).replace('"张伟"', '"\\ud83d\\ude00"').encode()  # 😀
    assert post_raw(system, "/cases", body, staff).status_code == 201


@pytest.mark.parametrize(("path", "value", "field"), [
    (("federation",), "gs.by.pg\n", "federation"),
    (("worker", "phone"), "13912345678\n", "worker.phone"),
    (("worker", "phone"), "１３９１２３４５６７８", "worker.phone"),  # full-width digits
    (("worker", "id_number"), "６２０４０２１９８００５１７００１Ｘ", "worker.id_number"),
    (("worker", "name"), "张\x00伟", "worker.name"),
    (("worker", "name"), "张\n伟", "worker.name"),
    (("worker", "name"), "   ", "worker.name"),
    (("worker", "name"), "\u3000", "worker.name"),  # an ideographic space is blank too
    (("worker", "employer"), "白银\x07", "worker.employer"),
    (("worker", "migrant"), "yes", "worker.migrant"),
    (("worker", "migrant"), 1, "worker.migrant"),
    (("household", "monthly_income"), "0.001", "household.monthly_income"),
    (("household", "monthly_income"), "1e3", "household.monthly_income"),
    (("household", "monthly_income"), "NaN", "household.monthly_income"),
    (("household", "monthly_income"), "100000000.00", "household.monthly_income"),
    (("household", "monthly_income"), 12.5, "household.monthly_income"),
    (("household", "subsistence_line"), "0.00", "household.subsistence_line"),
    (("household", "members", 0, "age"), True, "household.members[0].age"),
    (("household", "members", 0, "age"), "41", "household.members[0].age"),
])
def test_a_field_that_would_be_stored_wrongly_is_a_400(staff, path, value, field):
    body = application_body()
    target = body
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    assert_400_naming(staff.post("/cases", body), field)


def test_money_keeps_its_two_places_and_an_integer_is_accepted(staff):
    body = application_body()
    body["household"]["monthly_income"] = 1800
    created = staff.post("/cases", body)
    assert created.status_code == 201, created.text
    assert created.json()["household"]["monthly_income"] == "1800.00"


def test_a_date_with_full_width_digits_or_a_newline_is_a_400(staff):
    case_id = staff.post("/cases", application_body()).json()["case_id"]
    for day in ("２０２６-03-02", "2026-03-02\n", "20260302", "9999-12-31"):
        step = {**WORKFLOW[0][1], "visited_on": day}
        assert_400_naming(staff.post(f"/cases/{case_id}/verification", step), "visited_on")


def test_blank_free_text_is_a_400_but_line_breaks_in_it_are_fine(staff):
    case_id = staff.post("/cases", application_body()).json()["case_id"]
    blank = {**WORKFLOW[0][1], "findings": " \n\t "}
    assert_400_naming(staff.post(f"/cases/{case_id}/verification", blank), "findings")
    multiline = {**WORKFLOW[0][1], "findings": "妻子慢性病\n儿子高三\r\n\t住房困难"}
    assert staff.post(f"/cases/{case_id}/verification", multiline).status_code == 201


def test_the_400_message_is_a_sentence_naming_each_field(staff):
    body = application_body()
    body["household"]["members"][0]["schooling"] = "phd"
    body["worker"]["phone"] = "12345"
    error = staff.post("/cases", body).json()
    assert "household.members[0].schooling: must be one of none, preschool, primary" in error["message"]
    assert "worker.phone: not a mobile or landline number" in error["message"]
    assert "{" not in error["message"]
    assert error["fields"]["household"]["members"]["0"]["schooling"]


def test_query_strings_match_whole_values(system):
    admin = system.client("intake", "admin", "gs")
    assert admin.get("/cases", params={"federation": "gs.by\n"}).status_code == 400
    assert admin.get("/stats", params={"year": "２０２６"}).status_code == 400
    assert admin.get("/stats", params={"year": "2026\n"}).status_code == 400
    assert admin.get("/stats", params={"year": "2026"}).status_code == 200


def test_unmatched_routes_are_counted_and_answered_in_json(system):
    client = system.client("intake", role=None)
    missing = client.get("/no/such/route")
    assert missing.status_code == 404
    assert missing.json()["error"] == "not_found"
    wrong_method = client.session.delete(system.url("intake") + "/health", timeout=10)
    assert wrong_method.status_code == 405
    assert "GET" in wrong_method.headers["Allow"]
    metrics = requests.get(system.url("intake") + "/metrics", timeout=10).text
    assert re.search(r'relief_http_requests_total\{[^}]*route="unmatched"[^}]*status="404"[^}]*\} [1-9]', metrics)
    assert re.search(r'relief_http_requests_total\{[^}]*method="DELETE"[^}]*route="unmatched"[^}]*status="405"',
                     metrics)


def test_build_info_names_the_version_and_commit(system):
    metrics = requests.get(system.url("audit") + "/metrics", timeout=10).text
    line = next(line for line in metrics.splitlines()
                if line.startswith("relief_build_info{") and 'service="audit"' in line)
    assert re.search(r'version="[0-9]+\.[0-9]+\.[0-9]+"', line)
    assert 'commit="' in line
    assert line.endswith(" 1.0")
