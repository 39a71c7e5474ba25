"""The console's API (/api/v1, a contract) over the tracing scenario, SQLite and PostgreSQL: bearer
tokens, each role's boundary, bad parameters, and the audit of every lookup of a person."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mqtt.collector.console.app import Console, create_app
from mqtt.collector.store_console import AuditRow
from mqtt.collector.store_figures import Venue
from test_collector_queries import EXPECTED, NOW, scenario  # noqa: F401 - the fixture: a central store with visits

INDEX = "cccd:079190000000"


@pytest.fixture
def api(scenario):
    console = Console.over(scenario, clock=NOW.timestamp)      # the scenario's "now", in 2021
    client = create_app(console).test_client()
    tokens = {role: console.tokens.add(f"{role}-token", role) for role in ("tracer", "reporter", "fleet", "admin")}

    def get(path, role="tracer", **headers):
        if role is not None:
            headers["Authorization"] = f"Bearer {tokens[role]}"
        return client.get(path, headers=headers, environ_base={"REMOTE_ADDR": "10.1.2.3"})

    get.console = console
    return get


def test_contacts_for_a_tracer_in_the_contract_shape_and_audited(api):
    r = api(f"/api/v1/contacts?person={INDEX}&days=3")
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    body = r.get_json()
    assert set(body) == {"person", "visits", "contacts"}
    assert len(body["visits"]) == 3 and len(body["contacts"]) == len(EXPECTED) == 6
    assert [c["overlap_s"] for c in body["contacts"]] == sorted((c["overlap_s"] for c in body["contacts"]),
                                                               reverse=True)
    for contact in body["contacts"]:
        assert {"person", "overlap_s", "visits", "estimated"} <= set(contact)
        assert set(contact["person"]) == {"kind", "id", "name", "birth_date", "sex", "phone"}
    [row] = api.console.audit.rows()
    assert (row.actor, row.action, row.person, row.results, row.client) == \
        ("token:tracer-token", "contacts", INDEX, len(body["contacts"]), "10.1.2.3")


@pytest.mark.parametrize("role", ["reporter", "fleet", "admin"])
def test_no_other_role_sees_personal_data_and_each_refusal_is_audited(api, role):
    for path in (f"/api/v1/contacts?person={INDEX}", "/api/v1/presence?venue=cho-thu&from=2021-08-19T08:00%2B07:00"
                 "&to=2021-08-19T10:00%2B07:00"):
        r = api(path, role=role)
        assert r.status_code == 403 and r.get_json()["error"] == "forbidden"
        assert "079190000000" not in r.get_data(as_text=True)
    actor = f"token:{role}-token"
    assert [(a.actor, a.action, a.query) for a in api.console.audit.rows()] == [
        (actor, "contacts", {"refused": "role"}), (actor, "presence", {"refused": "role"})]
    assert api.console.audit.rows()[0].person == INDEX


def test_figures_for_reporters_and_tracers_not_for_fleet_or_admin(api):
    query = "/api/v1/stats?by=week&from=2021-08-16&to=2021-08-22"
    for role in ("reporter", "tracer"):
        r = api(query, role=role)
        assert r.status_code == 200
        rows = r.get_json()["rows"]
        assert {row["venue_id"] for row in rows} == {"cho-thu", "truong-hoc"}
        assert {"venue_id", "day", "check_ins", "visitors"} <= set(rows[0])
    for role in ("fleet", "admin"):
        assert api(query, role=role).status_code == 403
    assert api("/api/v1/stats?by=day&venue=cho-thu&from=2021-08-19&to=2021-08-19", role="reporter").get_json()[
        "rows"][0]["check_ins"] == 5


def test_figures_by_district_and_province(api):
    api.console.store.set_venues([Venue("cho-thu", "Chợ Thủ", "Ninh Hải", "Ninh Thuận"),
                                  Venue("truong-hoc", "Trường", "Thuận Bắc", "Ninh Thuận")])
    base = "/api/v1/stats?by=day&from=2021-08-19&to=2021-08-19"
    province = api(f"{base}&level=province&province=Ninh%20Thu%E1%BA%ADn", role="reporter").get_json()
    assert province["level"] == "province"
    assert [(r["province"], r["check_ins"], r["venues"]) for r in province["rows"]] == [("Ninh Thuận", 6, 2)]
    district = api(f"{base}&level=district&province=Ninh%20Thu%E1%BA%ADn&district=Ninh%20H%E1%BA%A3i",
                   role="reporter").get_json()["rows"]
    assert [(r["district"], r["check_ins"]) for r in district] == [("Ninh Hải", 5)]
    for bad in ("&level=country", "&district=Ninh%20H%E1%BA%A3i", "&province=a%7Cb", "&province=" + "x" * 101):
        r = api(base + bad, role="reporter")
        assert r.status_code == 400 and r.get_json()["error"] == "bad_request"


def test_presence_lists_everyone_there_and_is_audited(api):
    r = api("/api/v1/presence?venue=cho-thu&from=2021-08-19T08:00%2B07:00&to=2021-08-19T10:00%2B07:00")
    assert r.status_code == 200
    people = r.get_json()["people"]
    assert [p["present_s"] for p in people] == [7200.0, 7200.0, 1800.0, 1800.0]
    [row] = api.console.audit.rows()
    assert (row.action, row.results, row.query["venue"]) == ("presence", 4, "cho-thu")


@pytest.mark.parametrize("path", [
    "/api/v1/contacts?person=cccd", "/api/v1/contacts?person=passport:123", "/api/v1/contacts?person=phone:12",
    f"/api/v1/contacts?person={INDEX}&days=0", f"/api/v1/contacts?person={INDEX}&days=x",
    "/api/v1/presence?venue=cho-thu&from=2021-08-19T08:00&to=2021-08-19T10:00%2B07:00",     # no offset
    "/api/v1/presence?venue=cho-thu&from=2021-08-19T10:00%2B07:00&to=2021-08-19T08:00%2B07:00",
    "/api/v1/presence?venue=../etc&from=2021-08-19T08:00%2B07:00&to=2021-08-19T10:00%2B07:00",
    "/api/v1/stats?by=hour", "/api/v1/stats?from=2021-13-01",
])
def test_a_malformed_question_is_a_400_that_says_why(api, path):
    r = api(path)
    assert r.status_code == 400 and r.get_json()["error"] == "bad_request" and r.get_json()["message"]


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer ckc_" + "x" * 43, "Basic dXNlcjpwYXNz", "ckc_abc"])
def test_without_a_live_token_it_is_401(api, header):
    headers = {} if header is None else {"Authorization": header}
    r = api("/api/v1/stats", role=None, **headers)
    assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Bearer")
    assert api.console.audit.rows() == []


def test_a_revoked_token_is_refused_at_once(api):
    assert api("/api/v1/stats", role="reporter").status_code == 200
    api.console.tokens.revoke("reporter-token")
    assert api("/api/v1/stats", role="reporter").status_code == 401


def test_the_audit_is_append_only_in_the_store_itself(scenario):
    scenario.append_audit(AuditRow(NOW, "cli", "users_add", None, {"user": "Lan"}, None, None))
    for sql in ("UPDATE console_audit SET actor = 'someone else'", "DELETE FROM console_audit"):
        with pytest.raises(Exception, match="append-only"):
            with scenario._transaction():
                scenario._exec(sql)
    assert [r.actor for r in scenario.audit_rows()] == ["cli"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=st.sampled_from(["contacts", "presence", "stats"]),
       params=st.dictionaries(st.sampled_from(["person", "days", "venue", "from", "to", "by"]),
                              st.text(max_size=40) | st.sampled_from(["cccd:079190000000", "phone:0912345678", "7",
                                                                      "2021-08-19", "2021-08-19T08:00+07:00",
                                                                      "week", "cho-thu"]),
                              max_size=6))
def test_any_question_is_answered_or_refused_with_a_reason_never_a_crash(api, path, params):
    r = api(f"/api/v1/{path}?{urlencode(params)}")
    assert r.status_code in (200, 400), r.get_data(as_text=True)
    assert r.is_json and (r.status_code == 200 or r.get_json()["message"])
