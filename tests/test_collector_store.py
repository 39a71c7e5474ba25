"""The central store, the same behaviour on SQLite and PostgreSQL: exactly once, visits, seq, clocks, purge."""

from __future__ import annotations

import random
import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from mqtt.collector.queries import fleet
from mqtt.collector.store import DeadLetter, FleetUpdate, add_seq, open_store, seq_gaps

UTC = UTC
PERSON = {"kind": "cccd", "id": "079190000001", "name": "Nguyễn Thị Mẫu", "birth_date": "1990-01-01",
          "sex": "female", "phone": None}


def vid(name: str) -> str:
    """A stable visit id (UUID) for a readable name."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"visit:{name}"))


def person(n: int, name: str = "Nguyễn Thị Mẫu") -> dict:
    return {**PERSON, "id": f"07919000{n:04d}", "name": name}


def make_event(*, kiosk: str = "kiosk-a", seq: int = 1, type: str = "check_in", visit: str | None = None,
               at: str | datetime = "2021-08-15T08:00:00.000+07:00", synced: bool = True, boot: str = "boot-1",
               uptime: float = 1000.0, who: dict | None = None, venue: str = "cho-thu", estimated: bool | None = None,
               event_id: str | None = None) -> dict:
    """A valid ``checkin.event/1`` (as the kiosk builds it) with synthetic people only."""
    if isinstance(at, datetime):
        at = at.isoformat(timespec="milliseconds")
    return {"schema": "checkin.event/1", "event_id": event_id or str(uuid.uuid4()), "kiosk_id": kiosk,
            "venue_id": venue, "seq": seq, "type": type, "visit_id": visit or str(uuid.uuid4()), "at": at,
            "clock": {"synced": synced, "boot_id": boot, "uptime_s": uptime},
            "method": None if type == "auto_check_out" else "camera", "staff_id": None,
            "person": who or PERSON, "estimated": type == "auto_check_out" if estimated is None else estimated}


def t(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


@pytest.fixture
def central(store_url):
    s = open_store(store_url)
    yield s
    s.close()


def visit_of(store, visit_id):
    [row] = [r for r in store.visit_rows() if r["visit_id"] == visit_id]
    return row


# -- exactly once -------------------------------------------------------------------------------

def test_same_event_twice_in_one_batch_is_stored_once_and_acked_once(central):
    e = make_event()
    result = central.ingest([e, e])
    assert result.held == [e["event_id"]]
    assert (result.inserted, result.duplicates) == (1, 1)
    assert central.counts()["events"] == 1


def test_a_duplicate_across_batches_is_acked_again_but_not_stored_again(central):
    a, b = make_event(seq=1), make_event(seq=2)
    central.ingest([a])
    result = central.ingest([a, b])
    assert result.held == [a["event_id"], b["event_id"]]      # a again: the kiosk may have missed the ack
    assert (result.inserted, result.duplicates) == (1, 1)
    assert central.counts()["events"] == 2 and central.counts()["visits"] == 2
    assert result.seq_conflicts == []


def test_reopening_the_store_keeps_data_and_schema(store_url):
    with open_store(store_url) as s:
        s.ingest([make_event()])
    with open_store(store_url) as s:
        assert s.counts()["events"] == 1


# -- visits ---------------------------------------------------------------------------------------

def test_check_out_arriving_before_its_check_in_still_ends_the_visit(central):
    v = vid("ooo")
    out = make_event(seq=2, type="check_out", visit=v, at="2021-08-15T09:30:00.000+07:00")
    central.ingest([out])
    row = visit_of(central, v)
    assert row["check_in_at"] is None and row["check_out_at"] == t("2021-08-15T02:30:00+00:00")
    central.ingest([make_event(seq=1, type="check_in", visit=v, at="2021-08-15T08:00:00.000+07:00")])
    row = visit_of(central, v)
    assert row["check_in_at"] == t("2021-08-15T01:00:00+00:00")
    assert row["check_out_at"] == t("2021-08-15T02:30:00+00:00")
    assert row["check_out_type"] == "check_out" and row["check_out_estimated"] is False
    assert row["person"] == PERSON and row["venue_id"] == "cho-thu"


def test_auto_check_out_is_estimated_and_a_real_check_out_wins(central):
    v = vid("auto")
    central.ingest([make_event(seq=1, visit=v),
                    make_event(seq=2, type="auto_check_out", visit=v, at="2021-08-15T20:00:00.000+07:00")])
    row = visit_of(central, v)
    assert row["check_out_type"] == "auto_check_out" and row["check_out_estimated"] is True
    central.ingest([make_event(seq=3, type="check_out", visit=v, at="2021-08-15T21:00:00.000+07:00")])
    row = visit_of(central, v)
    assert row["check_out_type"] == "check_out" and row["check_out_estimated"] is False
    assert row["check_out_at"] == t("2021-08-15T14:00:00+00:00")


# -- the phone a visit was checked in with (tracing by phone, field fix 22) --------------------------

PHONE = "0912345678"


def phone_visits(store) -> dict[str, str | None]:
    return {r["visit_id"]: r["person_phone"] for r in store.visit_rows()}


def test_a_visit_keeps_its_persons_phone_for_tracing(central):
    staff, camera, late = vid("staff-phone"), vid("camera"), vid("out-first")
    household = {**PERSON, "kind": "kiosk_card", "id": "KC0000000001", "phone": PHONE}
    central.ingest([make_event(seq=1, visit=staff, who=household), make_event(seq=2, visit=camera),
                    make_event(seq=4, type="check_out", visit=late, who={**PERSON, "phone": "0912000004"},
                               at="2021-08-15T09:00:00.000+07:00")])
    assert phone_visits(central) == {staff: PHONE, camera: None, late: "0912000004"}
    # The visit's person (and so its phone) is its check-in's once that arrives.
    central.ingest([make_event(seq=3, visit=late, who={**PERSON, "phone": PHONE})])
    assert phone_visits(central)[late] == PHONE


def test_migration_4_fills_the_phone_of_visits_stored_before_it(store_url):
    sqlite = store_url.startswith("sqlite")
    with open_store(store_url) as s:
        staff, camera = vid("staff-phone"), vid("camera")
        s.ingest([make_event(seq=1, visit=staff, who={**PERSON, "phone": PHONE}), make_event(seq=2, visit=camera)])
        # Back to the schema before migration 4, as a store of the earlier version was.
        s._exec("DROP INDEX visits_phone")
        s._exec("ALTER TABLE visits DROP COLUMN person_phone")
        s._exec("DELETE FROM _sqlite_migrations WHERE name = 'm004_visit_phone'" if sqlite
                else "DELETE FROM schema_version WHERE version = 4")
        assert "person_phone" not in s.visit_rows()[0]
    with open_store(store_url) as s:
        assert phone_visits(s) == {staff: PHONE, camera: None}
        indexes = s._rows("SELECT name FROM sqlite_master WHERE type = 'index'" if sqlite
                          else "SELECT indexname AS name FROM pg_indexes WHERE tablename = 'visits'")
        assert "visits_phone" in {r["name"] for r in indexes}


# -- seq tracking ---------------------------------------------------------------------------------

def test_seq_gaps_and_late_arrivals_are_reported(central):
    r = central.ingest([make_event(seq=s) for s in (1, 2, 5, 6, 9)])
    assert r.late == []
    assert central.seq_state("kiosk-a") == (2, [[5, 6], [9, 9]])
    [k] = fleet(central)
    assert k["gaps"] == [[3, 4], [7, 8]] and k["seq_high_water"] == 2 and k["seq_max"] == 9

    r = central.ingest([make_event(seq=4), make_event(seq=8)])
    assert sorted(r.late) == [("kiosk-a", 4), ("kiosk-a", 8)]
    assert fleet(central)[0]["gaps"] == [[3, 3], [7, 7]]

    r = central.ingest([make_event(seq=3), make_event(seq=7), make_event(seq=10)])
    assert sorted(r.late) == [("kiosk-a", 3), ("kiosk-a", 7)]
    assert central.seq_state("kiosk-a") == (10, [])
    assert fleet(central)[0]["gaps"] == []

    # Another event claiming a seq already held: stored (it is a distinct event) and reported.
    r = central.ingest([make_event(seq=5)])
    assert r.seq_conflicts == [("kiosk-a", 5)] and r.inserted == 1
    assert central.seq_state("kiosk-a") == (10, [])


def test_seq_is_tracked_per_kiosk(central):
    central.ingest([make_event(kiosk="kiosk-a", seq=1), make_event(kiosk="kiosk-b", seq=3)])
    assert central.seq_state("kiosk-a") == (1, [])
    assert central.seq_state("kiosk-b") == (0, [[3, 3]])


def test_seq_range_helpers():
    hw, ranges = 0, []
    for s in (3, 1, 7, 2, 5):
        hw, ranges = add_seq(hw, ranges, s)
    assert (hw, ranges) == (3, [[5, 5], [7, 7]])
    assert seq_gaps(hw, ranges) == [[4, 4], [6, 6]]


# -- clocks ---------------------------------------------------------------------------------------

def test_unsynced_events_are_corrected_from_a_later_synced_event_of_the_same_boot(central):
    v = vid("clock")
    # Before NTP: the Pi thinks it is 1970. Uptimes 1000 s and 1600 s into boot-1.
    unsynced = [make_event(seq=1, visit=v, at="1970-01-01T00:16:40.000+00:00", synced=False, uptime=1000.0),
                make_event(seq=2, type="check_out", visit=v, at="1970-01-01T00:26:40.000+00:00", synced=False,
                           uptime=1600.0)]
    other_boot = make_event(seq=3, visit=vid("other"), at="1970-01-01T00:01:00.000+00:00", synced=False,
                            boot="boot-2", uptime=60.0)
    result = central.ingest(unsynced + [other_boot])
    assert result.corrected == 0
    assert all(e["at_corrected"] is None for e in central.event_rows())      # nothing to correct from yet
    assert visit_of(central, v)["check_in_at"] == t("1970-01-01T00:16:40+00:00")

    # NTP synced; at uptime 2000.5 s the true time is 2021-08-15 09:00:00.500 +07:00.
    synced = make_event(seq=4, visit=vid("later"), at="2021-08-15T09:00:00.500+07:00", synced=True, uptime=2000.5)
    result = central.ingest([synced])
    assert result.corrected == 2
    by_seq = {e["seq"]: e for e in central.event_rows()}
    assert by_seq[1]["at_corrected"] == t("2021-08-15T01:43:20+00:00")      # 1000.5 s before the synced one
    assert by_seq[2]["at_corrected"] == t("2021-08-15T01:53:20+00:00")
    assert by_seq[1]["at"] == t("1970-01-01T00:16:40+00:00")                  # the raw time is kept
    assert by_seq[3]["at_corrected"] is None                                  # another boot: untouched
    assert by_seq[4]["at_corrected"] is None                                  # synced: needs none
    row = visit_of(central, v)
    assert row["check_in_at"] == t("2021-08-15T01:43:20+00:00")
    assert row["check_out_at"] == t("2021-08-15T01:53:20+00:00")
    assert row["check_in_corrected"] and row["check_out_corrected"]
    assert visit_of(central, vid("other"))["check_in_corrected"] is False

    # An unsynced event of the boot arriving after the reference is corrected on arrival.
    late = make_event(seq=5, visit=vid("late"), at="1970-01-01T00:20:00.000+00:00", synced=False, uptime=1200.25)
    assert central.ingest([late]).corrected == 1
    assert visit_of(central, vid("late"))["check_in_at"] == t("2021-08-15T01:46:40.250+00:00")


# -- a visit belongs to the kiosk that opened it (field fix 4) ----------------------------------

def test_an_event_of_another_kiosks_visit_is_refused_and_the_visit_stays_intact(central):
    """Kiosk A, on its own topic, sends events with kiosk B's visit id: refused, dead-lettered,
    not acked; B's visit keeps its kiosk, venue and person, and B's own check-out still closes it."""
    visitor, intruder = person(1, "Nguyễn Thị Mẫu"), person(2, "Trần Văn Thử Lạ")
    b_in = make_event(kiosk="kiosk-b", seq=1, visit=vid("b1"), who=visitor)
    central.ingest([b_in])
    forged = [make_event(kiosk="kiosk-a", seq=1, type="check_out", visit=vid("b1"), who=intruder,
                         at="2021-08-15T08:01:00.000+07:00"),
              make_event(kiosk="kiosk-a", seq=2, visit=vid("b1"), who=intruder, venue="cho-khac",
                         at="2021-08-15T07:00:00.000+07:00")]
    own = make_event(kiosk="kiosk-a", seq=3, visit=vid("a1"))
    result = central.ingest(forged + [own, forged[0]])           # a re-sent copy too
    assert result.held == [own["event_id"]] and result.inserted == 1 and result.duplicates == 0
    assert sorted(result.refused) == sorted(("kiosk-a", e["event_id"], "visit_of_other_kiosk") for e in forged)
    visit = visit_of(central, vid("b1"))
    assert (visit["kiosk_id"], visit["venue_id"], visit["person"], visit["check_out_at"]) == \
        ("kiosk-b", "cho-thu", visitor, None)
    assert [e["kiosk_id"] for e in central.event_rows(visit_id=vid("b1"))] == ["kiosk-b"]
    letters = central.dead_letter_rows()
    assert sorted((r["reason"], r["kiosk_id"], r["event_id"]) for r in letters) == \
        sorted(("visit_of_other_kiosk", "kiosk-a", e["event_id"]) for e in forged)
    assert all("kiosk kiosk-b" in r["detail"] and r["topic"] == "kiosks/kiosk-a/events" for r in letters)
    assert central.ingest([forged[0]]).held == []                # re-sent later: still refused, kept once
    assert len(central.dead_letter_rows()) == 2
    central.ingest([make_event(kiosk="kiosk-b", seq=2, type="check_out", visit=vid("b1"), who=visitor,
                               at="2021-08-15T09:00:00.000+07:00")])
    assert visit_of(central, vid("b1"))["check_out_at"] == t("2021-08-15T02:00:00.000+00:00")


def test_in_one_batch_the_first_event_of_a_new_visit_fixes_its_kiosk(central):
    first = make_event(kiosk="kiosk-b", seq=1, visit=vid("new"))
    second = make_event(kiosk="kiosk-a", seq=1, type="check_out", visit=vid("new"))
    result = central.ingest([first, second])
    assert result.held == [first["event_id"]] and [r[1] for r in result.refused] == [second["event_id"]]
    assert visit_of(central, vid("new"))["kiosk_id"] == "kiosk-b"


def test_an_event_already_held_from_another_kiosk_is_not_acked_to_this_one(central):
    """The same event id sent by another kiosk than its own is refused (no ack for a stranger's event)."""
    e = make_event(kiosk="kiosk-b", seq=1, visit=vid("held"))
    central.ingest([e])
    result = central.ingest([{**e, "kiosk_id": "kiosk-a"}])
    assert result.held == [] and result.refused == [("kiosk-a", e["event_id"], "visit_of_other_kiosk")]
    assert central.counts()["events"] == 1


# -- dead letters, fleet, purge -------------------------------------------------------------------

def test_dead_letters_keep_reason_and_at_most_4_kb_of_payload(central):
    central.add_dead_letters([DeadLetter("kiosks/kiosk-a/events", "kiosk-a", "oversize", "5000 bytes", b"x" * 5000),
                              DeadLetter("kiosks/kiosk-a/events", "kiosk-a", "not_json", "not JSON", b"{")])
    rows = central.dead_letter_rows()
    assert [(r["reason"], len(r["payload"]), r["payload_size"]) for r in rows] == \
        [("not_json", 1, 1), ("oversize", 4096, 5000)]


def test_fleet_status_and_health(central):
    now = datetime.now(UTC)
    central.update_fleet([FleetUpdate("kiosk-a", now, status="online"),
                          FleetUpdate("kiosk-a", now, health={"outbox": {"pending": 3, "sent": 1,
                                                                         "oldest_undelivered_s": 42.0}})])
    later = now + timedelta(minutes=5)
    central.update_fleet([FleetUpdate("kiosk-a", later, status="online", retained=True)])   # seen again
    [k] = fleet(central)
    assert k["status"] == "online" and k["outbox_depth"] == 4 and k["oldest_undelivered_s"] == 42.0
    assert datetime.fromisoformat(k["status_at"]) == now.replace(microsecond=now.microsecond // 1000 * 1000)
    central.update_fleet([FleetUpdate("kiosk-a", later, status="offline", retained=True)])
    assert fleet(central)[0]["status"] == "offline"


def test_purge_deletes_what_is_past_retention(central):
    now = datetime.now(UTC)
    old, recent = now - timedelta(days=30), now - timedelta(days=2)
    central.ingest([make_event(seq=1, visit=vid("old"), at=old),
                    make_event(seq=2, type="check_out", visit=vid("old"), at=old + timedelta(hours=1)),
                    make_event(seq=3, visit=vid("recent"), at=recent),
                    make_event(seq=4, visit=vid("spans"), at=old),
                    make_event(seq=5, type="check_out", visit=vid("spans"), at=recent),
                    # An unsynced, uncorrected clock says 1970, but it arrived today: kept.
                    make_event(seq=6, visit=vid("1970"), at="1970-01-01T00:00:10.000+00:00", synced=False,
                               boot="boot-x")])
    central.add_dead_letters([DeadLetter("t", None, "topic", "", b"", received_at=old),
                              DeadLetter("t", None, "topic", "", b"", received_at=recent)])
    counts = central.purge(21, now=now)
    assert counts == {"events": 2, "visits": 1, "dead_letters": 1}
    assert {r["visit_id"] for r in central.visit_rows()} == {vid("recent"), vid("spans"), vid("1970")}
    assert central.counts()["events"] == 4
    assert central.seq_state("kiosk-a") == (6, [])      # seq tracking survives the purge


# -- concurrency (PostgreSQL: several collectors) -------------------------------------------------

def test_concurrent_overlapping_batches_on_postgres_store_each_event_once(postgres):
    url = postgres.new_database()
    kiosks = [f"kiosk-{i}" for i in range(12)]
    events = []
    for k in kiosks:
        for n in range(1, 11, 2):
            v = vid(f"{k}-{n}")
            events += [make_event(kiosk=k, seq=n, visit=v, who=person(n)),
                       make_event(kiosk=k, seq=n + 1, type="check_out", visit=v, who=person(n),
                                  at="2021-08-15T09:00:00.000+07:00")]
    stores = [open_store(url) for _ in range(3)]
    results, errors = [], []
    start = threading.Barrier(len(stores))

    def worker(store, seed):
        rng = random.Random(seed)
        mine = events[:]
        rng.shuffle(mine)            # every worker ingests every event, in its own order and batches
        start.wait()
        try:
            i = 0
            while i < len(mine):
                n = rng.randint(2, 12)
                results.append(store.ingest(mine[i:i + n]))
                i += n
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(s, i)) for i, s in enumerate(stores)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    try:
        assert errors == []
        assert sum(r.inserted for r in results) == len(events)
        assert sum(len(r.held) for r in results) == 3 * len(events)
        check = stores[0]
        assert check.counts()["events"] == len(events)
        for k in kiosks:
            assert check.seq_state(k) == (10, [])
        assert not any(r.seq_conflicts for r in results)
        rows = check.visit_rows()
        assert len(rows) == len(events) // 2 and all(r["check_in_at"] and r["check_out_at"] for r in rows)
    finally:
        for s in stores:
            s.close()


def test_sqlite_store_is_wal_with_synchronous_full(tmp_path):
    with open_store(f"sqlite://{tmp_path}/c.db") as s:
        assert s.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert s.conn.execute("PRAGMA synchronous").fetchone()[0] == 2
