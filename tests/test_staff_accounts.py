"""Staff accounts on a real kiosk database: one-time PINs, argon2, lockout, sessions, the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kiosk.staff.accounts import AccountError, StaffAccounts, check_new_pin
from codes import ManualTime

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def now():
    return ManualTime(1_790_000_000.0)


@pytest.fixture
def accounts(store, now):
    return StaffAccounts(store, clock=now, max_failures=5, lockout_s=900, session_idle_s=3600)


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
    for bad, code in [("", "staff_name_invalid"), ("x" * 41, "staff_name_invalid"), ("Lan\x1b[2J", "staff_name_invalid"),
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
    config = tmp_path / "kiosk.toml"
    config.write_text(f'[kiosk]\ndata_dir = "{tmp_path / "data"}"\n')
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    def kiosk(*args):
        return subprocess.run([sys.executable, "-m", "kiosk", *args, "--config", str(config)], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=60)

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
