"""The console's users on a real central store (SQLite and PostgreSQL): one-time passwords, codes from
an authenticator app (RFC 6238, computed with pyotp from the secret as a phone would), throttles
that slow a guesser without locking anyone out, and sessions that end."""

from __future__ import annotations

import json

import pyotp
import pytest

from configs import write_collector_config
from mqtt.collector.cli import main
from mqtt.collector.console.accounts import AccountError, ConsoleUsers
from mqtt.collector.store import open_store
from mqtt.plumbing.throttle import LoginThrottle

T0 = 1_800_000_000.0            # a wall clock the tests move


class Clock:
    def __init__(self):
        self.t = T0

    def __call__(self):
        return self.t


@pytest.fixture
def users(store_url):
    store = open_store(store_url)
    clock = Clock()
    users = ConsoleUsers(store, idle_minutes=15, max_hours=8, clock=clock,
                         device_throttle=LoginThrottle(free=5, max_wait_s=900, clock=clock),
                         account_throttle=LoginThrottle(free=5, max_wait_s=60, clock=clock))
    users.clock_ = clock
    yield users
    store.close()


def code(secret: str, at: float, steps: int = 0) -> str:
    return pyotp.TOTP(secret).at(at + 30 * steps)


def test_a_first_login_needs_the_password_and_the_apps_code_then_a_new_password(users):
    new = users.add("Trần Thị Lan", ["tracer"])
    assert new.otpauth_uri.startswith("otpauth://totp/checkin-kiosk:")
    assert f"secret={new.totp_secret}" in new.otpauth_uri
    t = users.clock_.t
    assert users.login("trần thị lan", new.password, "000000", client="10.0.0.5").reason == "bad_login"
    first = users.login("  TRẦN THỊ LAN ", new.password, code(new.totp_secret, t), client="10.0.0.5")
    assert first.ok and first.user.must_change and first.user.roles == ("tracer",)
    with pytest.raises(AccountError):
        users.change_password(first.user.user_id, new.password, "short")
    with pytest.raises(AccountError):
        users.change_password(first.user.user_id, new.password, "trần thị lan")
    users.change_password(first.user.user_id, new.password, "một mật khẩu dài")
    users.clock_.t += 30
    again = users.login("Trần Thị Lan", "một mật khẩu dài", code(new.totp_secret, users.clock_.t), client="10.0.0.5")
    assert again.ok and not again.user.must_change
    assert not users.login("Trần Thị Lan", new.password, code(new.totp_secret, users.clock_.t, 1), client="x").ok


def test_a_code_is_good_once_and_only_near_now(users):
    new = users.add("Lan", ["tracer"])
    t = users.clock_.t
    assert users.login("Lan", new.password, code(new.totp_secret, t), client="a").ok
    assert users.login("Lan", new.password, code(new.totp_secret, t), client="a").reason == "bad_login"   # replayed
    assert users.login("Lan", new.password, code(new.totp_secret, t, -1), client="a").reason == "bad_login"  # older
    assert users.login("Lan", new.password, code(new.totp_secret, t, 1), client="a").ok        # a phone 30 s ahead
    assert not users.login("Lan", new.password, code(new.totp_secret, t, 5), client="a").ok    # far off


def test_a_guesser_is_slowed_and_cannot_lock_the_user_out(users):
    new = users.add("Lan", ["tracer"])
    for _ in range(5):
        assert users.login("Lan", "wrong password", "123456", client="203.0.113.9").reason == "bad_login"
    blocked = users.login("Lan", "wrong password", "123456", client="203.0.113.9")
    assert blocked.reason == "throttled" and blocked.retry_after_s >= 1
    # the user, elsewhere: their account waits too, but a minute at most, however long the guessing
    for _ in range(40):
        users.clock_.t += 61
        users.login("Lan", "wrong password", "123456", client="203.0.113.9")
    users.clock_.t += 61
    ok = users.login("Lan", new.password, code(new.totp_secret, users.clock_.t), client="10.0.0.5")
    assert ok.ok
    # an unknown name is refused with the same answer as a wrong password
    assert users.login("nobody", "whatever pass", "123456", client="10.0.0.6").reason == "bad_login"


def test_sessions_end_when_idle_when_old_and_on_a_password_change(users):
    new = users.add("Lan", ["tracer", "admin"])
    user = users.login("Lan", new.password, code(new.totp_secret, users.clock_.t), client="a").user
    token = users.open_session(user.user_id)
    assert users.session(token).roles == ("tracer", "admin")
    users.clock_.t += 14 * 60
    assert users.session(token) is not None                 # used 14 min later: still live
    users.clock_.t += 16 * 60
    assert users.session(token) is None                     # idle for 16 min
    token = users.open_session(user.user_id)
    for _ in range(40):                                     # busy all day: ends 8 h after the login
        users.clock_.t += 14 * 60
        if users.session(token) is None:
            break
    assert users.clock_.t - T0 >= 8 * 3600 + 30 * 60 - 14 * 60
    token = users.open_session(user.user_id)
    users.change_password(user.user_id, new.password, "another long password")
    assert users.session(token) is None
    token = users.open_session(user.user_id)
    users.remove("lan")
    assert users.session(token) is None and users.list() == []
    assert users.session("x" * 200) is None and users.session("") is None


def test_names_and_roles_are_checked(users):
    with pytest.raises(AccountError):
        users.add("", ["tracer"])
    with pytest.raises(AccountError):
        users.add("La\x00n", ["tracer"])
    with pytest.raises(AccountError):
        users.add("Lan", ["superuser"])
    users.add("Lan", ["reporter"])
    with pytest.raises(AccountError, match="already"):
        users.add("LAN", ["tracer"])
    with pytest.raises(AccountError, match="no user"):
        users.reset("Minh")


def test_the_operators_commands_print_once_and_audit_as_cli(tmp_path, capsys):
    config = write_collector_config(tmp_path / "collector.toml", store={"url": f"sqlite://{tmp_path}/central.db"})
    assert main(["users", "add", "Lan", "--role", "tracer", "--role", "admin", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    uri = next(line for line in out.splitlines() if line.startswith("otpauth://"))
    assert "issuer=checkin-kiosk" in uri and ("█" in out or "▀" in out)        # the QR, in the terminal
    assert main(["api-token", "add", "district-7", "--role", "reporter", "--config", str(config)]) == 0
    token = capsys.readouterr().out.splitlines()[-1]
    assert token.startswith("ckc_") and len(token) == 47
    assert main(["api-token", "add", "district-7", "--role", "reporter", "--config", str(config)]) == 1
    assert "already" in capsys.readouterr().err
    assert main(["users", "list", "--json", "--config", str(config)]) == 0
    [user] = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert user["roles"] == ["tracer", "admin"] and user["must_change"] is True
    assert main(["api-token", "revoke", "district-7", "--config", str(config)]) == 0
    assert main(["users", "remove", "Lan", "--config", str(config)]) == 0
    capsys.readouterr()
    assert main(["audit", "--json", "--config", str(config)]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["actor"], r["action"]) for r in rows] == [
        ("cli", "users_add"), ("cli", "api_token_add"), ("cli", "api_token_revoke"), ("cli", "users_remove")]
    assert token not in json.dumps(rows) and "password" not in json.dumps(rows)
    assert main(["users", "add", "Minh", "--config", str(config)]) == 2                # no --role
    assert main(["users", "reset", "--config", str(config)]) == 2                      # no name
