"""The gateway over HTTP: logins and accounts, every service's API under /api/<service>/, the console's files."""

import time

import pytest
import requests

from tests.factories import application_body
from tests.harness.postgres import free_port
from tests.harness.services import InProcessSystem, environment


@pytest.fixture(scope="module")
def console_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("console")
    (root / "assets").mkdir()
    (root / "index.html").write_text('<!doctype html><html lang="zh-CN"><title>帮扶</title><div id="app"></div>')
    (root / "assets" / "app-1a2b3c.js").write_text("console.log('帮扶')")
    return root


@pytest.fixture(scope="module")
def system(tmp_path_factory, console_dir):
    env = environment(tmp_path_factory.mktemp("system"))
    env.update({"RELIEF_DEMO_USERS": "1", "RELIEF_CONSOLE_DIR": str(console_dir),
                "RELIEF_GATEWAY_AID_URLS": f"http://127.0.0.1:{free_port()}"})  # aid never answers here
    running = InProcessSystem(env).start()
    yield running
    running.stop()


@pytest.fixture
def gateway(system):
    return system.url("gateway")


def log_in(gateway, login, password="demo"):
    return requests.post(f"{gateway}/api/auth/login", json={"login": login, "password": password}, timeout=10)


def bearer(tokens):
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def test_a_demo_user_logs_in_and_the_token_works_at_every_service(gateway):
    tokens = log_in(gateway, "demo-caseworker").json()
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 900
    assert tokens["user"] == {"login": "demo-caseworker", "display_name": "演示 经办人", "role": "caseworker",
                              "federation": "gs.by", "disabled": False, "locked": False}
    opened = requests.post(f"{gateway}/api/intake/cases", json=application_body(), headers=bearer(tokens), timeout=10)
    assert opened.status_code == 201
    case_id = opened.json()["case_id"]
    listed = requests.get(f"{gateway}/api/intake/cases", params={"state": "applied"}, headers=bearer(tokens),
                          timeout=10)
    assert case_id in [c["case_id"] for c in listed.json()["cases"]]
    assert requests.get(f"{gateway}/api/pairing/coverage", headers=bearer(tokens), timeout=10).status_code == 200


def test_a_services_own_errors_come_back_through_the_gateway_as_they_are(gateway):
    tokens = log_in(gateway, "demo-caseworker").json()
    body = application_body()
    body["worker"]["id_number"] = "12345"
    refused = requests.post(f"{gateway}/api/intake/cases", json=body, headers=bearer(tokens), timeout=10)
    assert refused.status_code == 400
    assert "id_number" in refused.json()["fields"]["worker"]
    assert requests.get(f"{gateway}/api/intake/cases", timeout=10).status_code == 401
    cadre = log_in(gateway, "demo-cadre").json()
    assert requests.post(f"{gateway}/api/intake/cases", json=application_body(), headers=bearer(cadre),
                         timeout=10).status_code == 403


def test_a_services_metrics_are_not_published_through_the_gateway(gateway):
    assert requests.get(f"{gateway}/api/intake/metrics", timeout=10).status_code == 404
    assert requests.get(f"{gateway}/api/audit/metrics/", timeout=10).status_code == 404
    assert requests.get(f"{gateway}/api/intake/openapi.json", timeout=10).json()["info"]["title"].startswith("Intake")


def test_the_gateway_is_ready_without_any_broker(system):
    checks = requests.get(system.url("gateway") + "/ready", timeout=10).json()["checks"]
    assert set(checks) == {"store", "demo_accounts"}  # no transport: it exchanges no events
    assert all(check["ok"] for check in checks.values())


def test_a_service_that_does_not_answer_is_a_503_naming_it(gateway):
    tokens = log_in(gateway, "demo-approver").json()
    answer = requests.get(f"{gateway}/api/aid/programs", headers=bearer(tokens), timeout=10)
    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == "5"
    assert "aid" in answer.json()["message"]


def test_a_body_over_the_largest_any_service_takes_is_refused_before_it_is_forwarded(gateway):
    answer = requests.post(f"{gateway}/api/intake/imports", data=b"x" * (21 * 1024 * 1024 + 1), timeout=30)
    assert answer.status_code == 413


def test_a_wrong_password_is_a_401_and_repeated_ones_lock_with_a_423(gateway):
    answers = [log_in(gateway, "demo-auditor", "wrong") for _ in range(5)]
    assert [a.status_code for a in answers] == [401, 401, 401, 401, 423]
    assert answers[0].json()["error"] == "bad_credentials"
    assert log_in(gateway, "demo-auditor").status_code == 423  # the right password too, while locked
    admin = log_in(gateway, "demo-admin").json()
    lifted = requests.patch(f"{gateway}/api/users/demo-auditor", json={"locked": False}, headers=bearer(admin),
                            timeout=10)
    assert lifted.json()["locked"] is False
    assert log_in(gateway, "demo-auditor").status_code == 200


@pytest.mark.parametrize("body", [{}, {"login": "demo-admin"}, {"login": "Demo Admin", "password": "demo"},
                                  {"login": "demo-admin", "password": "de\x00mo"}, {"login": 7, "password": []}])
def test_a_malformed_login_is_a_400_naming_the_field(gateway, body):
    answer = requests.post(f"{gateway}/api/auth/login", json=body, timeout=10)
    assert answer.status_code == 400
    assert set(answer.json()["fields"]) <= {"login", "password"} and answer.json()["fields"]


def test_refresh_rotates_and_logout_ends_the_session(gateway):
    first = log_in(gateway, "demo-caseworker").json()
    second = requests.post(f"{gateway}/api/auth/refresh", json={"refresh_token": first["refresh_token"]}, timeout=10)
    assert second.status_code == 200
    me = requests.get(f"{gateway}/api/auth/me", headers=bearer(second.json()), timeout=10)
    assert me.json()["login"] == "demo-caseworker"
    out = requests.post(f"{gateway}/api/auth/logout", json={"refresh_token": second.json()["refresh_token"]},
                        timeout=10)
    assert out.status_code == 204 and out.content == b""
    again = requests.post(f"{gateway}/api/auth/refresh", json={"refresh_token": second.json()["refresh_token"]},
                          timeout=10)
    assert (again.status_code, again.json()["error"]) == (401, "session_ended")


def test_an_admin_opens_and_lists_accounts_of_their_subtree_only(gateway):
    admin = bearer(log_in(gateway, "demo-admin").json())
    opened = requests.post(f"{gateway}/api/users", headers=admin, timeout=10, json={
        "login": "wang.wei", "display_name": "王伟", "role": "cadre", "federation": "gs.by.bh",
        "password": "a long enough password"})
    assert opened.status_code == 201
    assert requests.post(f"{gateway}/api/users", headers=admin, timeout=10, json={
        "login": "qian", "display_name": "钱", "role": "cadre", "federation": "gs.jc",
        "password": "a long enough password"}).status_code == 403
    short = requests.post(f"{gateway}/api/users", headers=admin, timeout=10, json={
        "login": "sun", "display_name": "孙", "role": "cadre", "federation": "gs.by", "password": "short"})
    assert short.status_code == 400 and "password" in short.json()["fields"]
    listed = requests.get(f"{gateway}/api/users", headers=admin, timeout=10).json()["users"]
    assert "wang.wei" in [u["login"] for u in listed]
    assert log_in(gateway, "wang.wei", "a long enough password").json()["user"]["federation"] == "gs.by.bh"
    caseworker = bearer(log_in(gateway, "demo-caseworker").json())
    assert requests.get(f"{gateway}/api/users", headers=caseworker, timeout=10).status_code == 403


def test_the_console_is_served_with_its_routes_falling_back_to_index_html(gateway):
    page = requests.get(f"{gateway}/", timeout=10)
    assert page.status_code == 200 and "text/html" in page.headers["Content-Type"]
    assert page.headers["Cache-Control"] == "no-cache"
    assert "frame-ancestors 'self'" in page.headers["Content-Security-Policy"]
    deep = requests.get(f"{gateway}/cases/123/timeline", timeout=10)
    assert deep.status_code == 200 and deep.text == page.text
    asset = requests.get(f"{gateway}/assets/app-1a2b3c.js", timeout=10)
    assert asset.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert "javascript" in asset.headers["Content-Type"]
    assert requests.get(f"{gateway}/assets/missing.js", timeout=10).status_code == 404
    assert asset.headers["Content-Encoding"] == "gzip" and asset.text == "console.log('帮扶')"  # requests accepts gzip
    plain = requests.get(f"{gateway}/assets/app-1a2b3c.js", headers={"Accept-Encoding": "identity"}, timeout=10)
    assert "Content-Encoding" not in plain.headers and plain.text == asset.text
    again = requests.get(f"{gateway}/assets/app-1a2b3c.js", headers={"If-None-Match": asset.headers["ETag"]},
                         timeout=10)
    assert again.status_code == 304
    assert requests.get(f"{gateway}/../../etc/passwd", timeout=10).text == page.text  # never a file outside
    assert requests.get(f"{gateway}/api/nothing/here", timeout=10).status_code == 404


def test_a_read_of_personal_data_reaches_the_trail_and_the_auditors_list(gateway):
    staff = bearer(log_in(gateway, "demo-caseworker").json())
    case_id = requests.post(f"{gateway}/api/intake/cases", json=application_body(), headers=staff,
                            timeout=10).json()["case_id"]
    shown = requests.post(f"{gateway}/api/intake/cases/{case_id}/disclosure", json={"reason": "核对银行卡信息"},
                          headers=staff, timeout=10)
    assert shown.status_code == 200
    auditor = bearer(log_in(gateway, "demo-admin").json())
    deadline, reads = time.monotonic() + 20, []
    while time.monotonic() < deadline and not reads:
        reads = requests.get(f"{gateway}/api/audit/reads", params={"case_id": case_id}, headers=auditor,
                             timeout=10).json()["reads"]
        time.sleep(0.2)
    assert [(r["by"], r["reason"], r["case_id"]) for r in reads] == [("demo-caseworker", "核对银行卡信息", case_id)]
    history = requests.get(f"{gateway}/api/audit/cases/{case_id}/history", headers=auditor, timeout=10).json()
    [read] = [e for e in history["events"] if e["type"] == "PersonalDataViewed"]
    assert read["index"] == reads[0]["index"]
