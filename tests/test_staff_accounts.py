"""Staff accounts on a real kiosk database: one-time PINs, argon2, the per-device throttle, lockout,
the failed-login tally, sessions, the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from codes import ManualTime
from configs import write_kiosk_config
from kiosk.staff.accounts import AccountError, StaffAccounts, check_new_pin
from mqtt.plumbing.throttle import LOOPBACK, UNKNOWN, LoginThrottle, client_key

ROOT = Path(__file__).resolve().parent.parent


def kiosk_command(config: Path, *args: str) -> subprocess.CompletedProcess:
    """``kiosk ARGS --config CONFIG`` in a process of its own, as an owner at the kiosk types it."""
    return subprocess.run([sys.executable, "-m", "kiosk", *args, "--config", str(config)], cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=60,
                          check=False)


@pytest.fixture
def now():
    return ManualTime(1_790_000_000.0)


@pytest.fixture
def accounts(store, now):
    return StaffAccounts(store, clock=now, monotonic=now, max_failures=5, lockout_s=900, session_idle_s=3600)


def test_a_new_account_logs_in_once_with_its_one_time_pin_then_chooses_its_own(accounts, store):
    pin = accounts.add("Lan")
    assert len(pin) == 6 and pin.isdigit()
    first = accounts.login("  LAN ", pin)            # names are not case or space sensitive
    assert first.ok and first.must_change and first.staff.name == "Lan"
    accounts.change_pin(first.staff.staff_id, "480215")
    assert accounts.login("lan", pin).reason == "bad_login"
    again = accounts.login("lan", "480215")
    assert again.ok and not again.must_change
    # Only an argon2 hash is stored, never the PIN.
    [(stored,)] = store.db.execute("SELECT pin_hash FROM staff").fetchall()
    assert stored.startswith("$argon2id$") and "480215" not in stored


def test_five_wrong_pins_lock_the_account_even_against_the_right_pin(accounts, now):
    pin = accounts.add("Minh")
    for _ in range(4):
        assert accounts.login("Minh", "000001").reason == "bad_login"
    locked = accounts.login("Minh", "000001")
    assert locked.reason == "locked" and locked.locked_for_s == 900
    assert accounts.login("Minh", pin).reason == "locked"       # the right PIN does not help now
    now.advance(901)
    assert accounts.login("Minh", pin).ok                        # the lockout ends by itself


def test_a_success_resets_the_failure_count(accounts):
    pin = accounts.add("Hoa")
    for _ in range(4):
        accounts.login("Hoa", "999990")
    assert accounts.login("Hoa", pin).ok
    for _ in range(4):
        assert accounts.login("Hoa", "999990").reason == "bad_login"


def test_unknown_names_and_wrong_pins_are_not_told_apart(accounts):
    accounts.add("Lan")
    assert accounts.login("nobody", "123450").reason == "bad_login"
    assert accounts.login("Lan", "123450").reason == "bad_login"


def test_sessions_end_on_logout_idle_timeout_reset_and_removal(accounts, now, store):
    pin = accounts.add("Lan")
    staff = accounts.login("Lan", pin).staff
    token = accounts.open_session(staff.staff_id)
    assert accounts.session(token).staff_id == staff.staff_id
    assert store.db.execute("SELECT count(*) FROM staff_sessions WHERE token_hash = ?", [token]).fetchone()[0] == 0
    accounts.close_session(token)
    assert accounts.session(token) is None                       # logged out: the token is dead
    token = accounts.open_session(staff.staff_id)
    now.advance(3599)
    assert accounts.session(token) is not None                   # used: kept alive
    now.advance(3601)
    assert accounts.session(token) is None                       # idle too long
    token = accounts.open_session(staff.staff_id)
    new_pin = accounts.reset("Lan")
    assert accounts.session(token) is None and accounts.login("Lan", new_pin).must_change
    token = accounts.open_session(staff.staff_id)
    accounts.remove("Lan")
    assert accounts.session(token) is None and accounts.login("Lan", new_pin).reason == "bad_login"
    assert accounts.session("forged-token") is None and accounts.session("") is None


def test_account_names_and_pins_are_checked(accounts):
    accounts.add("Lan")
    for bad, code in [("", "staff_name_invalid"), ("x" * 41, "staff_name_invalid"),
                      ("Lan\x1b[2J", "staff_name_invalid"),
                      ("lan", "staff_exists")]:
        with pytest.raises(AccountError) as e:
            accounts.add(bad)
        assert e.value.code == code
    for pin, code in [("12345", "pin_format"), ("abcdef", "pin_format"), ("111111", "pin_too_simple"),
                      ("123456", "pin_too_simple"), ("987654", "pin_too_simple"), ("1234567890123", "pin_format")]:
        with pytest.raises(AccountError) as e:
            check_new_pin(pin)
        assert e.value.code == code
    with pytest.raises(AccountError) as e:
        accounts.reset("nobody")
    assert e.value.code == "staff_unknown"


def test_kiosk_staff_command_prints_the_pin_once_and_lists_accounts(tmp_path):
    config = write_kiosk_config(tmp_path / "kiosk.toml", kiosk={"data_dir": tmp_path / "data"})

    def kiosk(*args):
        return kiosk_command(config, *args)

    added = kiosk("staff", "add", "Nguyễn Lan")
    assert added.returncode == 0, added.stderr
    pin = added.stdout.split("one-time PIN ")[1].split()[0]
    assert len(pin) == 6 and pin not in added.stderr
    listed = kiosk("staff", "list")
    assert "Nguyễn Lan" in listed.stdout and "one-time PIN not used yet" in listed.stdout and pin not in listed.stdout
    again = kiosk("staff", "add", "nguyễn lan")
    assert again.returncode == 1 and "exists already" in again.stderr
    assert kiosk("staff", "add").returncode == 2
    assert kiosk("staff", "remove", "Nguyễn Lan").returncode == 0
    assert "Nguyễn Lan" not in kiosk("staff", "list").stdout


# -- the one-time PIN, login throttling, lockout and the audit tally (issue 10, items 11 and 12) --

LAN = "192.168.1.50"


class Spy:
    """Counts argon2 verifications (the library's own, called through) and the store's
    transactions (sqlite3's trace of the statements the connection runs)."""

    def __init__(self, monkeypatch, store):
        from argon2 import PasswordHasher

        self.hashes: list[str] = []
        self.statements: list[str] = []
        real = PasswordHasher.verify

        def verify(hasher, pin_hash, password):
            self.hashes.append(pin_hash)
            return real(hasher, pin_hash, password)

        monkeypatch.setattr(PasswordHasher, "verify", verify)
        store.db.conn.set_trace_callback(self.statements.append)

    def take(self) -> tuple[list[str], list[str]]:
        """(hashes verified, BEGIN/COMMIT statements) since the last call."""
        hashes, self.hashes = self.hashes, []
        txs = [s for s in self.statements if s.split()[0] in ("BEGIN", "COMMIT", "ROLLBACK")]
        self.statements.clear()
        return hashes, txs


def test_the_one_time_pin_cannot_be_kept_as_the_own_pin(accounts):
    pin = accounts.add("Lan")
    staff = accounts.login("Lan", pin).staff
    with pytest.raises(AccountError) as e:
        accounts.change_pin(staff.staff_id, pin)
    assert e.value.code == "pin_same"
    assert accounts.login("Lan", pin).must_change                 # still the one-time PIN, still to change
    accounts.change_pin(staff.staff_id, "480215")
    with pytest.raises(AccountError) as e:                         # nor is the current own PIN a new one
        accounts.change_pin(staff.staff_id, "480215")
    assert e.value.code == "pin_same"
    assert not accounts.login("Lan", "480215").must_change


def test_unknown_names_wrong_pins_and_locked_accounts_cost_the_same_work(accounts, store, monkeypatch):
    """No timing oracle by construction: each refusal verifies one argon2 hash of the same
    parameters (a dummy for an unknown name) and writes one transaction."""
    pin = accounts.add("Lan")
    minh_pin = accounts.add("Minh")
    for i in range(5):                                                 # locked, from five devices
        accounts.login("Minh", "000001", client=f"10.0.1.{i}")
    assert [a["locked"] for a in accounts.list()] == [False, True]
    [(lan_hash,), (minh_hash,)] = store.db.execute("SELECT pin_hash FROM staff ORDER BY name_key").fetchall()
    spy = Spy(monkeypatch, store)
    work = {}
    for what, name, typed, client in [("unknown", "Không Có", "000001", "10.0.0.1"),
                                      ("wrong", "Lan", "000001", "10.0.0.2"),
                                      ("locked", "Minh", "000001", "10.0.0.3"),
                                      ("locked, right PIN, over the LAN", "Minh", minh_pin, "10.0.0.4")]:
        result = accounts.login(name, typed, client=client)
        assert not result.ok and result.reason in ("bad_login", "locked")
        work[what] = spy.take()
    params = {h.rsplit("$", 2)[0] for h in (lan_hash, minh_hash)}
    for what, (hashes, txs) in work.items():
        assert len(hashes) == 1 and hashes[0].rsplit("$", 2)[0] in params, what
        assert [t.split()[0] for t in txs] == ["BEGIN", "COMMIT"], what
    assert work["unknown"][0][0] not in (lan_hash, minh_hash)        # the dummy hash
    assert work["wrong"][0][0] == lan_hash and work["locked"][0][0] == minh_hash
    assert accounts.login("Lan", pin, client="10.0.0.5").ok


def test_a_device_that_keeps_failing_waits_longer_each_time_and_others_do_not(accounts, store, now, monkeypatch):
    pin = accounts.add("Lan")
    spy = Spy(monkeypatch, store)
    for _ in range(3):                                                 # names guessed: not an account's failures
        assert accounts.login("Quản Lý", "000001", client=LAN).reason == "bad_login"
    assert len(spy.take()[0]) == 3
    waits = []
    for _ in range(4):
        refused = accounts.login("Lan", pin, client=LAN)              # even the right PIN must wait
        assert refused.reason == "throttled" and not refused.ok
        waits.append(refused.retry_after_s)
        assert spy.take()[0] == []                                     # answered without checking anything
        now.advance(refused.retry_after_s)
        assert accounts.login("Quản Lý", "000001", client=LAN).reason == "bad_login"
        assert len(spy.take()[0]) == 1
    assert waits == [1, 2, 4, 8]                                        # a delay that grows
    assert accounts.login("Lan", pin, client="192.168.1.51").ok        # another device is not held up
    assert accounts.login("Lan", pin, client="::ffff:192.168.1.50").reason == "throttled"   # the same device
    now.advance(16)
    assert accounts.login("Lan", pin, client=LAN).ok                   # a success clears the device's count
    assert accounts.login("Quản Lý", "000001", client=LAN).reason == "bad_login"


def test_a_locked_account_is_opened_by_its_owner_on_the_kiosk_screen_not_over_the_lan(accounts, now):
    pin = accounts.add("Lan")
    for i in range(5):                                                 # five devices, one wrong PIN each
        accounts.login("Lan", "000001", client=f"192.168.1.{60 + i}")
    assert accounts.list()[0]["locked"]
    assert accounts.login("Lan", pin, client="192.168.1.70").reason == "locked"   # the right PIN, over the LAN
    assert accounts.login("Lan", "000001", client="127.0.0.1").reason == "locked"  # a wrong one on the screen
    on_screen = accounts.login("Lan", pin, client="127.0.0.1")
    assert on_screen.ok and on_screen.unlocked
    assert not accounts.list()[0]["locked"]
    assert accounts.login("Lan", pin, client="192.168.1.70").ok
    actions = [(a["action"], a["subject"]) for a in accounts.audit.recent()]
    staff_id = on_screen.staff.staff_id
    assert ("locked_out", staff_id) in actions and ("unlocked", staff_id) in actions


def test_failed_logins_are_one_audit_row_per_device_per_window(accounts, store, now, monkeypatch):
    accounts.add("Lan")
    spy = Spy(monkeypatch, store)
    for _ in range(200):                                               # a flood from one device
        accounts.login("Lan", "000001", client=LAN)
    accounts.login("nobody", "000001", client="192.168.1.51")
    accounts.login("nobody", "000001", client="192.168.1.51")
    hashes, txs = spy.take()
    assert len(hashes) == 5 and txs.count("COMMIT") <= 6              # 3 + 2 checked; the flood wrote once
    accounts.flush()
    rows = [a for a in accounts.audit.recent() if a["action"] == "login_failed"]
    assert sorted((a["subject"], a["detail"]) for a in rows) == [
        ("192.168.1.50", "failed=3 throttled=197"), ("192.168.1.51", "failed=2 throttled=0")]
    now.advance(600)                                                   # the next window: a row of its own
    accounts.login("Lan", "000001", client=LAN)
    rows = [a for a in accounts.audit.recent() if a["action"] == "login_failed" and a["subject"] == LAN]
    assert [a["detail"] for a in rows] == ["failed=1 throttled=0", "failed=3 throttled=197"]
    assert all("Lan" not in str(a) for a in accounts.audit.recent())  # ids and counts, never a name


def test_argon2_runs_at_most_two_at_once_and_a_third_is_told_to_retry(store, now):
    import threading

    slots = threading.BoundedSemaphore(1)
    accounts = StaffAccounts(store, clock=now, verify_slots=slots)
    pin = accounts.add("Lan")
    assert slots.acquire(blocking=False)                               # another login is being checked
    busy = accounts.login("Lan", pin, client=LAN)
    assert busy.reason == "busy" and busy.retry_after_s == 1 and not busy.ok
    slots.release()
    assert accounts.login("Lan", pin, client=LAN).ok                   # and it was not counted against it


def test_a_pin_change_takes_a_verification_slot_like_a_login(store, now):
    """A PIN change runs argon2 twice (the check against the current PIN, the new hash): under the
    limit logins have, so a burst of PIN changes cannot take more memory and cores than logins may."""
    import threading

    slots = threading.BoundedSemaphore(1)
    accounts = StaffAccounts(store, clock=now, verify_slots=slots)
    pin = accounts.add("Lan")
    staff = accounts.login("Lan", pin).staff
    assert slots.acquire(blocking=False)                               # a login is being checked
    with pytest.raises(AccountError, match="pin_busy"):
        accounts.change_pin(staff.staff_id, "480215")
    slots.release()
    assert accounts.login("Lan", pin).must_change                      # nothing was changed
    accounts.change_pin(staff.staff_id, "480215")
    assert accounts.login("Lan", "480215").ok and slots.acquire(blocking=False)   # and the slot came back


def test_a_wall_clock_stepped_back_does_not_lengthen_a_devices_wait(store, now):
    """The throttle is kept in memory on a monotonic clock: NTP stepping the wall clock back an
    hour does not make a device wait an hour more. (Lockouts are in the database and keep wall
    time: a restart must not end them, and no monotonic clock outlives one.)"""
    ticks = ManualTime(1000.0)
    accounts = StaffAccounts(store, clock=now, monotonic=ticks)
    pin = accounts.add("Lan")
    for _ in range(3):
        assert accounts.login("Lan", "000001", client=LAN).reason == "bad_login"
    assert accounts.login("Lan", pin, client=LAN).retry_after_s == 1
    now.advance(-3600)
    ticks.advance(1)
    assert accounts.login("Lan", pin, client=LAN).ok


def test_reset_ends_a_lockout_from_the_command_line(tmp_path):
    """`kiosk staff reset NAME` on the kiosk's database: the account opens with a new one-time PIN."""
    from kiosk.store import VisitStore

    config = write_kiosk_config(tmp_path / "kiosk.toml", kiosk={"data_dir": tmp_path / "data"})

    def kiosk(*args):
        return kiosk_command(config, *args)

    pin = kiosk("staff", "add", "Lan").stdout.split("one-time PIN ")[1].split()[0]
    store = VisitStore.open(tmp_path / "data" / "kiosk.db")
    try:
        accounts = StaffAccounts(store)
        for i in range(5):
            accounts.login("Lan", "000001", client=f"192.168.1.{80 + i}")
        assert "(locked)" in kiosk("staff", "list").stdout
        reset = kiosk("staff", "reset", "Lan")
        assert reset.returncode == 0, reset.stderr
        new_pin = reset.stdout.split("one-time PIN ")[1].split()[0]
        assert "(locked)" not in kiosk("staff", "list").stdout
        assert accounts.login("Lan", pin, client="192.168.1.90").reason == "bad_login"
        result = accounts.login("Lan", new_pin, client="192.168.1.90")
        assert result.ok and result.must_change
        assert "pin_reset" in [a["action"] for a in accounts.audit.recent()]
    finally:
        store.close()


# -- the throttle's client names and delays, for any input (hypothesis) --------------------------


@given(st.text(max_size=80))
def test_any_address_text_names_a_client_without_failing(text):
    key = client_key(text)
    assert isinstance(key, str) and key


@given(st.ip_addresses(v=4))
def test_an_ipv4_client_is_its_address_also_when_mapped_into_ipv6(ip):
    key = client_key(str(ip))
    assert key == (LOOPBACK if ip.is_loopback else str(ip))
    assert client_key(f"::ffff:{ip}") == key


@given(st.ip_addresses(v=6), st.integers(0, 2**64 - 1), st.integers(0, 2**64 - 1))
def test_an_ipv6_client_is_its_64_network(ip, low_a, low_b):
    import ipaddress

    net = int(ip) >> 64 << 64
    a, b = ipaddress.IPv6Address(net | low_a), ipaddress.IPv6Address(net | low_b)
    if a.ipv4_mapped or b.ipv4_mapped or a.is_loopback or b.is_loopback:
        return
    assert client_key(str(a)) == client_key(str(b)) == f"{ipaddress.IPv6Address(net)}/64"
    other = ipaddress.IPv6Address(int(a) ^ (1 << 64))
    if not other.ipv4_mapped and not other.is_loopback:
        assert client_key(str(other)) != client_key(str(a))


def test_loopback_and_unreadable_addresses():
    assert client_key("127.0.0.1") == client_key("::1") == client_key("127.3.4.5") == LOOPBACK
    assert client_key(None) == client_key("") == client_key("not-an-ip") == UNKNOWN
    assert client_key("fe80::1%eth0") == "fe80::/64"


@given(st.integers(1, 6), st.lists(st.one_of(st.just("try"), st.floats(0, 2000)), max_size=60))
def test_a_client_gets_its_free_attempts_then_waits_that_never_shrink_until_a_success(free, steps):
    now = ManualTime(1_790_000_000.0)
    throttle = LoginThrottle(free=free, first_wait_s=1, max_wait_s=900, forget_s=10**9, clock=now)
    assert [throttle.admit("c") for _ in range(free)] == [0.0] * free   # at once, with no wait between
    attempts, last_delay = free, throttle.delay(free)
    for step in steps:
        if step == "try":
            waited = throttle.wait("c")
            got = throttle.admit("c")
            assert got == waited                                          # admit says what wait said
            if got == 0:
                attempts += 1
                assert throttle.delay(attempts) >= last_delay
                last_delay = throttle.delay(attempts)
            else:
                assert got <= last_delay
        else:
            now.advance(step)
    assert 0 < throttle.delay(10**6) <= 900


def test_the_throttle_forgets_quiet_clients_and_keeps_a_bounded_table():
    now = ManualTime(1_790_000_000.0)
    throttle = LoginThrottle(free=1, forget_s=3600, max_clients=100, clock=now)
    throttle.admit("a")
    assert throttle.admit("a") == 1.0
    now.advance(3600)
    assert throttle.admit("a") == 0.0                                   # a quiet hour: afresh
    for i in range(1000):
        throttle.admit(f"10.0.{i // 256}.{i % 256}")
    assert len(throttle) <= 100 + 1


# -- no silent default account (issue 10, item 12) ------------------------------------------------

def test_provisioning_makes_no_staff_account_unless_asked_and_says_so(tmp_path, capsys):
    """`kiosk-provision kiosk new` made an `admin` account on every kiosk without a word; now it makes
    the one --staff names, or none and says so, and the kiosk's self-test warns about it."""
    from kiosk.selftest import checks
    from kiosk.store import VisitStore
    from provisioning.cli import main as provision
    from provisioning.fleet import Fleet

    root = str(tmp_path / "fleet")
    assert provision(["init", root, "--broker-host", "127.0.0.1"]) == 0
    assert provision(["venue", "add", "cho-thu", "--name", "Chợ Thử", "--fleet", root]) == 0
    capsys.readouterr()

    def accounts_of(kiosk_id):
        store = VisitStore.open(Fleet.open(root).kiosk_data(kiosk_id) / "kiosk.db")
        try:
            return [a["name"] for a in StaffAccounts(store).list()]
        finally:
            store.close()

    assert provision(["kiosk", "new", "tinh-cho-thu-01", "--venue", "cho-thu", "--fleet", root]) == 0
    out = capsys.readouterr().out
    assert "NO staff account" in out and "kiosk staff add NAME" in out and "PIN" not in out
    assert accounts_of("tinh-cho-thu-01") == []
    check = checks.staff(Fleet.open(root).kiosk_data("tinh-cho-thu-01"))
    assert (check.status, check.key) == ("warn", "staff_none")

    assert provision(["kiosk", "new", "tinh-cho-thu-02", "--venue", "cho-thu", "--staff", "Lan", "--fleet", root]) == 0
    out = capsys.readouterr().out
    assert "'Lan' one-time PIN" in out and "NO staff account" not in out
    assert accounts_of("tinh-cho-thu-02") == ["Lan"]
    check = checks.staff(Fleet.open(root).kiosk_data("tinh-cho-thu-02"))
    assert (check.status, check.figures) == ("pass", {"accounts": 1, "locked": 0})


def test_a_throttle_given_is_the_one_used(store, now):
    """An empty LoginThrottle has no clients, so it is falsy: ``throttle or LoginThrottle()`` threw the
    given one away for a default on the real monotonic clock."""
    accounts = StaffAccounts(store, clock=now, monotonic=now, throttle=LoginThrottle(free=1, clock=now))
    accounts.add("Minh")
    assert accounts.login("Minh", "000001", client="192.168.1.50").reason == "bad_login"
    assert accounts.login("Minh", "000001", client="192.168.1.50").reason == "throttled"   # the default lets 3 by
