"""People registered under a phone number, and what staff do with them at the door."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import kiosk_db
from codes import cccd_payload
from kiosk.credentials import recognise
from kiosk.door.checkin import CheckinDesk
from kiosk.printing.queue import PrintQueue
from kiosk.staff.accounts import Staff
from kiosk.staff.audit import Audit
from kiosk.staff.desk import StaffDesk
from kiosk.staff.people import DeclarationError, People, PhoneFull, parse_declaration

TODAY = dt.date(2026, 9, 21)
LAN = Staff("s-0000aaaa", "Lan", False)


def declare(**form):
    return parse_declaration({"name": "Trần Văn Thử", "phone": "0912345678", **form}, today=TODAY)


@pytest.fixture
def staff_desk(store, clock):
    import threading
    lock = threading.RLock()
    seen = []
    desk = StaffDesk(CheckinDesk(store, clock, kiosk_id="k-01", venue_id="cho-thu", mode="toggle"),
                     People(store, lock=lock), Audit(store, lock=lock), PrintQueue(store, lock=lock), lock=lock,
                     on_outcome=seen.append)
    desk.seen = seen
    return desk


def test_declarations_are_normalised():
    d = parse_declaration({"name": "  trần  văn\u00a0thử ", "phone": "+84 912.345.678", "birth": "5/3/1950",
                           "sex": "male", "id_number": "079 050 000 001", "address": "Phường Mẫu"}, today=TODAY)
    assert (d.name, d.phone, d.birth_date, d.sex, d.id_type, d.id_number) == \
        ("trần văn thử", "0912345678", "1950-03-05", "male", "cccd", "079050000001")
    assert declare(birth="1950").birth_date == "1950"
    assert declare(birth="1950-03-05").birth_date == "1950-03-05"
    assert declare(id_number="123456789").id_type == "cmnd"
    assert (declare(id_number="b1234567").id_type, declare(id_number="b1234567").id_number) == ("passport", "B1234567")
    assert declare(id_number="").id_type is None


@pytest.mark.parametrize("typed", ["5/3/1990", "5-3-1990", "05-03-1990", "5.3.1990", "05.03.1990", "05/03/1990",
                                   "5 / 3 / 1990", "1990-03-05"])
def test_birth_dates_as_vietnamese_write_them_are_day_first(typed):
    assert declare(birth=typed).birth_date == "1990-03-05"  # 5 March, never 3 May


@pytest.mark.parametrize("typed", ["5/3-1990", "5-3/1990", "1990/03/05", "5/3/90", "05031990", "5//3/1990",
                                   "٥/٣/١٩٩٠", "13/13/1990", "29-02-1991", "1990-3-5"])
def test_birth_dates_in_other_shapes_are_refused(typed):
    with pytest.raises(DeclarationError) as e:
        declare(birth=typed)
    assert (e.value.field, e.value.code) == ("birth", "birth_invalid")


@settings(max_examples=200, deadline=None)
@given(date=st.dates(min_value=dt.date(1900, 1, 1), max_value=TODAY), sep=st.sampled_from("/-."),
       pad_day=st.booleans(), pad_month=st.booleans())
def test_any_day_first_birth_date_round_trips(date, sep, pad_day, pad_month):
    day = f"{date.day:02d}" if pad_day else str(date.day)
    month = f"{date.month:02d}" if pad_month else str(date.month)
    assert declare(birth=f"{day}{sep}{month}{sep}{date.year}").birth_date == date.isoformat()
    assert declare(birth=date.isoformat()).birth_date == date.isoformat()


@pytest.mark.parametrize("form, field, code", [
    ({"name": ""}, "name", "name_required"),
    ({"name": "   "}, "name", "name_required"),
    ({"name": "Lan\x1b[31m"}, "name", "name_invalid"),
    ({"name": "x" * 101}, "name", "name_invalid"),
    ({"phone": "024 3826 4545"}, "phone", "phone_landline"),
    ({"phone": "0123 456 7890"}, "phone", "phone_old"),
    ({"phone": "091234567"}, "phone", "phone_length"),
    ({"phone": "0912-34x-678"}, "phone", "phone_chars"),
    ({"phone": ""}, "phone", "phone_prefix"),
    ({"birth": "2027"}, "birth", "birth_invalid"),
    ({"birth": "31/02/1990"}, "birth", "birth_invalid"),
    ({"birth": "1850"}, "birth", "birth_invalid"),
    ({"sex": "x"}, "sex", "sex_invalid"),
    ({"id_number": "07919000000"}, "id_number", "id_number_length"),
    ({"id_number": "0791900000012"}, "id_number", "id_number_length"),
    ({"id_number": "12345"}, "id_number", "id_number_length"),
    ({"id_number": "AB-12"}, "id_number", "id_number_invalid"),
    ({"id_number": "Ａ1234567"}, "id_number", "id_number_invalid"),
    ({"address": "x" * 201}, "address", "address_invalid"),
])
def test_bad_declarations_name_the_field_and_the_reason(form, field, code):
    with pytest.raises(DeclarationError) as e:
        declare(**form)
    assert (e.value.field, e.value.code) == (field, code)


def test_an_old_number_says_which_prefix_it_became():
    with pytest.raises(DeclarationError) as e:
        declare(phone="0123 456 7890")
    assert (e.value.code, e.value.values) == ("phone_old", {"old": "0123", "new": "083"})


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["name", "phone", "birth", "sex", "id_number", "address"]),
                       st.text(max_size=60)))
def test_any_form_input_is_accepted_cleanly_or_refused_with_a_field(form):
    try:
        d = parse_declaration(form, today=TODAY)
    except DeclarationError as e:
        assert e.field in ("name", "phone", "birth", "sex", "id_number", "address")
        return
    assert d.name and d.name.isprintable() and len(d.name) <= 100
    assert d.phone.isascii() and d.phone.isdigit() and len(d.phone) == 10 and d.phone[0] == "0"
    assert d.id_number is None or (d.id_number.isascii() and d.id_number.isalnum())
    assert d.address is None or d.address.isprintable()


def test_at_most_five_people_per_phone_and_a_form_sent_twice_is_one_person(store):
    people = People(store, max_per_phone=5)
    first, new = people.register(declare(name="Người Một"), staff_id="s-1")
    again, new_again = people.register(declare(name="người một"), staff_id="s-1")
    assert new and not new_again and again.person_id == first.person_id
    for n in ("Hai", "Ba", "Bốn", "Năm"):
        people.register(declare(name=f"Người {n}"), staff_id="s-1")
    with pytest.raises(PhoneFull) as e:
        people.register(declare(name="Người Sáu"), staff_id="s-1")
    assert e.value.limit == 5
    assert len(people.by_phone("0912345678")) == 5
    assert people.revoke(first.person_id)
    people.register(declare(name="Người Sáu"), staff_id="s-1")        # room again after a revocation
    assert [p.name for p in people.by_phone("0912345678")][-1] == "Người Sáu"


def test_a_household_checks_in_together_then_out(staff_desk, store):
    for name in ("Bà Ngoại", "Mẹ", "Con"):
        staff_desk.people.register(declare(name=f"Người {name}"), staff_id=LAN.staff_id)
    members = staff_desk.household("0912345678")
    ids = [m.person.person_id for m in members]
    results = staff_desk.check_in(LAN, "0912345678", ids)
    assert [r.code for r in results] == ["check_in"] * 3
    assert all(m.inside for m in staff_desk.household("0912345678"))
    # Pressing "check in" again does not make second visits: each is said to be inside already.
    again = staff_desk.check_in(LAN, "0912345678", ids)
    assert [(r.code, r.at) for r in again] == [("already_inside", r.at) for r in results]
    out = staff_desk.check_out(LAN, "0912345678", ids[:2])
    assert [r.code for r in out] == ["check_out"] * 2
    events = kiosk_db.events(store)
    assert [e["type"] for e in events] == ["check_in"] * 3 + ["check_out"] * 2
    assert {e["staff_id"] for e in events} == {LAN.staff_id}
    assert {e["method"] for e in events} == {"staff_phone"}
    assert {e["person"]["kind"] for e in events} == {"kiosk_card"}
    audit = staff_desk.audit.recent()
    assert [a["action"] for a in audit].count("check_in") == 3 and all(a["staff_id"] == LAN.staff_id for a in audit)
    assert len(staff_desk.seen) == 5


def test_people_of_another_phone_cannot_be_checked_in_through_this_one(staff_desk):
    other, _ = staff_desk.people.register(declare(phone="0912000001"), staff_id=LAN.staff_id)
    assert staff_desk.check_in(LAN, "0912345678", [other.person_id]) == []


def test_declaring_registers_and_checks_in_and_a_cccd_joins_the_camera_identity(staff_desk, store):
    person, new, result = staff_desk.declare(LAN, declare(id_number="079190000001"))
    assert new and result.code == "check_in"
    [event] = kiosk_db.events(store)
    assert event["method"] == "staff_form" and event["person"]["kind"] == "cccd"
    assert event["person"]["id"] == "079190000001"
    # The same person showing their ID card at the camera is the same visitor: checked out.
    camera = CheckinDesk(store, staff_desk.desk.clock, kiosk_id="k-01", venue_id="cho-thu", mode="toggle")
    assert camera.present(recognise(cccd_payload(1))).kind == "check_out"


def test_who_is_inside_is_masked_and_closing_time_checks_everyone_out(staff_desk, desk, store):
    desk.present(recognise(cccd_payload(7)))
    staff_desk.declare(LAN, declare(name="Trần Văn Thử"))
    inside = staff_desk.inside()
    assert len(inside) == 2 and "Trần V. T." in [v["name"] for v in inside]
    assert all("Trần Văn Thử" != v["name"] for v in inside)
    assert staff_desk.check_out_visits(LAN, [inside[0]["visit_id"]]) == 1
    assert staff_desk.check_out_everyone(LAN) == 1
    assert staff_desk.inside() == []
    last = kiosk_db.events(store)[-1]
    assert last["type"] == "check_out" and last["estimated"] is True and last["staff_id"] == LAN.staff_id
    assert [a["action"] for a in staff_desk.audit.recent()][:2] == ["check_out_all", "check_out"]


def test_a_card_print_is_queued_and_audited(staff_desk):
    person, _, _ = staff_desk.declare(LAN, declare())
    job, queued_for = staff_desk.print_card(LAN, person.person_id)
    assert queued_for == person
    [queued] = staff_desk.prints.queued()
    assert (queued["id"], queued["kind"], queued["subject"]) == (job, "card", person.person_id)
    assert staff_desk.print_card(LAN, "PNOSUCH") is None


def test_today_counts_check_ins_by_hour_refusals_and_delivery(staff_desk, desk, store, clock):
    desk.present(recognise(cccd_payload(1)))
    desk.present(recognise(cccd_payload(2)))
    store.count_refusal(clock.stamp().at.isoformat(), "payment_qr")
    today = staff_desk.today(now=clock.stamp().at)
    hour = clock.stamp().at.astimezone(clock.tz).hour
    assert today["check_ins"] == 2 and today["check_ins_by_hour"][hour] == 2
    assert today["refusals"] == {"payment_qr": 1}
    assert (today["visits_sent"], today["waiting"], today["inside"]) == (0, 2, 2)


# -- Field fix 16/17: what staff do is said to staff, in staff wording, and the day's figures ----

def test_checking_out_someone_outside_is_a_note_for_staff_not_a_refusal_at_the_door(staff_desk, store):
    person, _ = staff_desk.people.register(declare(), staff_id=LAN.staff_id)
    [result] = staff_desk.check_out(LAN, "0912345678", [person.person_id])
    assert (result.code, result.done, result.outcome) == ("not_inside", False, None)
    # Nothing recorded, nothing counted as a refused code, nobody told (the screen, the printer).
    assert kiosk_db.events(store) == [] and kiosk_db.refusal_counts(store) == {} and staff_desk.seen == []


def test_a_household_check_in_reports_who_was_inside_already_and_since_when(staff_desk, store, clock, wall):
    for name in ("Bà Ngoại", "Mẹ", "Con"):
        staff_desk.people.register(declare(name=f"Người {name}"), staff_id=LAN.staff_id)
    ids = [m.person.person_id for m in staff_desk.household("0912345678")]
    [first] = staff_desk.check_in(LAN, "0912345678", ids[:1])
    wall.advance(600)
    results = staff_desk.check_in(LAN, "0912345678", ids)
    assert [r.code for r in results] == ["already_inside", "check_in", "check_in"]
    assert results[0].at == first.at and results[0].person.person_id == ids[0]
    assert len(kiosk_db.events(store)) == 3 and len(staff_desk.seen) == 3      # told of what was done only


def test_a_staff_check_in_at_a_full_venue_says_so(store, clock):
    import threading
    lock = threading.RLock()
    full = StaffDesk(CheckinDesk(store, clock, kiosk_id="k-01", venue_id="cho-thu", capacity=1),
                     People(store, lock=lock), Audit(store, lock=lock), PrintQueue(store, lock=lock), lock=lock)
    for name in ("Người Một", "Người Hai"):
        full.people.register(declare(name=name), staff_id=LAN.staff_id)
    ids = [m.person.person_id for m in full.household("0912345678")]
    results = full.check_in(LAN, "0912345678", ids)
    assert [r.code for r in results] == ["check_in", "venue_full"]
    assert results[1].outcome.capacity == 1


def test_today_counts_check_outs_and_the_visits_the_centre_holds_in_full(staff_desk, desk, store, clock, wall):
    from kiosk.centre.outbox import KioskOutbox
    day_start = clock.now().replace(hour=0, minute=0, second=0, microsecond=0)
    wall.now = day_start.timestamp() - 3600                 # 23:00 yesterday: a visit begins
    desk.present(recognise(cccd_payload(1)))
    wall.now = day_start.timestamp() + 8 * 3600 + 60        # 08:01 today
    desk.present(recognise(cccd_payload(1)))                # ... and ends today
    desk.present(recognise(cccd_payload(2)))
    desk.present(recognise(cccd_payload(3)))
    desk.present(recognise(cccd_payload(2)))                # in and out today
    wall.advance(3600)                                      # 09:01
    staff_desk.check_out_everyone(LAN)                      # closing: number 3 goes, estimated
    events = kiosk_db.events(store)
    outbox = KioskOutbox(store.path)
    try:        # the centre holds both events of number 2's visit, and number 3's check-in
        outbox.mark_delivered([e["event_id"] for e in events if e["person"]["id"].endswith("2")] +
                              [e["event_id"] for e in events if e["person"]["id"].endswith("3")][:1])
    finally:
        outbox.close()
    f = staff_desk.today()
    assert f["date"] == day_start.date()
    assert (f["check_ins"], f["check_ins_by_hour"][8], f["check_ins_by_hour"][23]) == (2, 2, 0)
    assert (f["check_outs"], f["check_outs_estimated"], f["inside"]) == (3, 1, 0)
    assert f["visits_sent"] == 1                            # number 3's check-out is still waiting
    assert f["waiting"] == len(events) - 3


def test_a_staff_check_out_the_contract_cannot_carry_is_not_done_and_nothing_is_recorded(staff_desk, store):
    """Review of issue 10, item 2: the event of a visit an earlier firmware recorded, with a name
    the contract no longer carries, raised InvalidEvent through the staff page (a 500)."""
    person, _ = staff_desk.people.register(declare(), staff_id=LAN.staff_id)
    with store.transaction() as tx:
        tx.insert_visit(visit_id="5d3ad0e4-8a7e-4c1b-9f4e-2b6f0c1d2e3f", venue_id="cho-thu", kiosk_id="k-01",
                        person_key=person.credential().key,
                        person={**person.credential().person(), "name": " ".join(["Trần Văn Thử"] * 25)},
                        check_in_at="2026-09-21T20:00:00.000+07:00", synced=True, boot_id="b", uptime_s=1.0,
                        method="staff_phone", staff_id=LAN.staff_id, warnings=())
    [result] = staff_desk.check_out(LAN, "0912345678", [person.person_id])
    assert (result.code, result.done) == ("event_invalid", False) and staff_desk.seen == []
    assert store.visits()[0]["check_out_at"] is None and kiosk_db.events(store) == []
