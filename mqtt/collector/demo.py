"""A synthetic province for a newcomer's console (``kiosk-collector demo-data``): Ninh Thuận's seven
districts, markets, schools, clinics and offices in each, a fortnight of check-ins and check-outs to
today, a few confirmed cases opened for the tracers. Every person is made up (names from common
name parts, identity numbers from a seeded generator), and everything goes in through the store's
own ingest, as events from kiosks would: visits, the figures' marks, the fleet's last-seen.

Usage, on an empty store::

    fill(store, venues=28, days=14, per_day=120, seed=1)   # -> a Summary, cases to try included
"""

from __future__ import annotations

import random
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from ..plumbing.tomlconfig import DEFAULT_TIMEZONE
from ..wire.event import build_event
from .store import Store
from .store_figures import Venue

PROVINCE = "Ninh Thuận"
DISTRICTS = ("Phan Rang–Tháp Chàm", "Ninh Hải", "Ninh Phước", "Ninh Sơn", "Bác Ái", "Thuận Bắc", "Thuận Nam")
KINDS_OF_VENUE = (("cho", "Chợ"), ("truong", "Trường THCS"), ("tram-y-te", "Trạm y tế"), ("ubnd", "UBND"),
                  ("sieu-thi", "Siêu thị"), ("ben-xe", "Bến xe"))
FAMILY = ("Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng", "Bùi", "Đỗ", "Hồ",
          "Ngô", "Dương", "Lý")
MIDDLE = {"female": ("Thị", "Ngọc", "Thu", "Kim", "Thanh"), "male": ("Văn", "Đức", "Minh", "Quốc", "Hữu")}
GIVEN = {"female": ("Lan", "Hoa", "Mai", "Hương", "Thảo", "Dung", "Hạnh", "Yến", "Trang", "Nhung", "Linh"),
         "male": ("An", "Bình", "Cường", "Dũng", "Hải", "Hùng", "Khoa", "Long", "Nam", "Phúc", "Sơn", "Tâm")}
#: Ninh Thuận's code in the CCCD number (the first three digits: the province of birth registration).
PROVINCE_CODE = "058"
BATCH = 500


@dataclass
class Summary:
    province: str = PROVINCE
    districts: int = 0
    venues: int = 0
    visits: int = 0
    events: int = 0
    cases: list[str] = field(default_factory=list)      # kind:id of the confirmed cases opened


def _person(rnd: random.Random, n: int) -> dict:
    sex = rnd.choice(("female", "male"))
    year = rnd.randint(1940, 2008)
    century = (0 if year < 2000 else 2) + (1 if sex == "female" else 0)
    name = f"{rnd.choice(FAMILY)} {rnd.choice(MIDDLE[sex])} {rnd.choice(GIVEN[sex])}"
    phone = f"09{rnd.randrange(10 ** 8):08d}" if rnd.random() < 0.6 else None
    return {"kind": "cccd", "id": f"{PROVINCE_CODE}{century}{year % 100:02d}{n:06d}", "name": name,
            "birth_date": f"{year}-{rnd.randint(1, 12):02d}-{rnd.randint(1, 28):02d}", "sex": sex, "phone": phone}


#: The question ids of the Ministry's declaration, as the kiosks' default set names them.
DEMO_QUESTIONS = ("fever", "cough", "breathing", "sore_throat", "taste_smell", "tiredness", "contact", "from_area")


def venues_of(count: int) -> list[Venue]:
    """``count`` venues spread over the districts, each named for its kind and district."""
    out = []
    for i in range(count):
        district = DISTRICTS[i % len(DISTRICTS)]
        slug, kind = KINDS_OF_VENUE[(i // len(DISTRICTS)) % len(KINDS_OF_VENUE)]
        out.append(Venue(f"nt-{slug}-{i + 1:02d}", f"{kind} {district}", district, PROVINCE))
    return out


def fill(store: Store, *, venues: int = 28, days: int = 14, per_day: int = 120, seed: int = 1, cases: int = 3,
         now: datetime | None = None, tz: str = DEFAULT_TIMEZONE, opened_by: str = "demo-data") -> Summary:
    """Fill an empty ``store`` (ValueError if it holds visits already: demo data never mixes with
    real data) with ``days`` days to ``now`` of ``per_day`` visits a venue (opening hours 06:00 to
    18:00, busiest in the morning), and open ``cases`` confirmed cases for the tracers."""
    if store.visit_rows(limit=1):
        raise ValueError("the store already holds visits: demo data goes only into an empty store")
    rnd = random.Random(seed)
    zone = ZoneInfo(tz)
    now = (now or datetime.now(UTC)).astimezone(UTC)
    places = venues_of(venues)
    store.set_venues(places)
    people = [_person(rnd, n) for n in range(max(10, venues * per_day * days // 6))]
    regulars = {v.venue_id: rnd.sample(people, min(len(people), per_day * 3)) for v in places}
    seqs: dict[str, int] = {}
    summary = Summary(districts=len({v.district for v in places}), venues=len(places))
    batch: list[dict] = []

    # Of the period's kiosks' own ways (issue 13), drawn apart so the visits stay those of the seed:
    # staff phone check-ins confirmed by a code (or why not), and health declarations of the day.
    extras = random.Random(seed + 1)

    def event(kiosk: str, venue: str, visit: str, kind: str, at: datetime, person: dict, method: str | None) -> None:
        fields: dict = {}
        if kind == "check_in" and method == "staff_phone":
            fields["phone_check"] = ({"verified": True, "reason": None} if extras.random() < 0.85 else
                                     {"verified": False, "reason": extras.choice(["no_phone_signal", "not_delivered"])})
        if kind == "check_in" and extras.random() < 0.3:
            answers = dict.fromkeys(DEMO_QUESTIONS, False)
            if extras.random() < 0.05:
                answers[extras.choice(DEMO_QUESTIONS[:2])] = True
            fields["declaration"] = {"made_at": at.astimezone(zone).isoformat(timespec="seconds"),
                                     "via": "staff" if method == "staff_phone" else "screen", "answers": answers,
                                     "flagged": any(answers.values())}
        seqs[kiosk] = seqs.get(kiosk, 0) + 1
        batch.append(build_event(seq=seqs[kiosk], event_id=str(uuid.UUID(int=rnd.getrandbits(128), version=4)),
                                 type=kind, kiosk_id=kiosk, venue_id=venue, visit_id=visit,
                                 at=at.astimezone(zone).isoformat(timespec="milliseconds"),
                                 clock={"synced": True, "boot_id": f"{kiosk}-boot", "uptime_s": 3600.0},
                                 now=now, method=method, staff_id=None, person=person,
                                 estimated=kind == "auto_check_out", **fields))
        if len(batch) >= BATCH:
            flush()

    def flush() -> None:
        summary.events += store.ingest(batch, received_at=now).inserted
        batch.clear()
    today = now.astimezone(zone).date()
    for back in range(days - 1, -1, -1):
        day = today - timedelta(days=back)
        opening = datetime.combine(day, time(6), zone)
        for v in places:
            kiosks = [f"{v.venue_id}-{k}" for k in (1, 2)]
            for _ in range(per_day):
                # busiest 06:00-09:00: a triangle peaking an hour after opening
                at = opening + timedelta(minutes=rnd.triangular(0, 12 * 60, 60))
                if at >= now:
                    continue
                person = rnd.choice(regulars[v.venue_id]) if rnd.random() < 0.7 else rnd.choice(people)
                staff = person["phone"] is not None and rnd.random() < 0.1
                kiosk, visit = rnd.choice(kiosks), str(uuid.UUID(int=rnd.getrandbits(128), version=4))
                event(kiosk, v.venue_id, visit, "check_in", at, person, "staff_phone" if staff else "camera")
                summary.visits += 1
                stay = timedelta(minutes=rnd.triangular(10, 150, 30))
                auto = rnd.random() < 0.08
                out = at + (timedelta(hours=4) if auto else stay)
                if out < now:
                    event(kiosk, v.venue_id, visit, "auto_check_out" if auto else "check_out", out, person,
                          None if auto else "camera")
    flush()
    # The confirmed cases: people seen at several venues in the last days.
    seen: dict[str, set[str]] = {}
    for r in store.visit_rows(limit=20_000):
        seen.setdefault(r["person"]["id"], set()).add(r["venue_id"])
    for person_id in sorted(seen, key=lambda p: (-len(seen[p]), p))[:cases]:
        store.insert_case(case_id=secrets.token_urlsafe(16), person=f"cccd:{person_id}", days=14,
                          opened_by=opened_by, opened_at=now)
        summary.cases.append(f"cccd:{person_id}")
    return summary
