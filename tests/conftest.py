"""Shared fixtures: real SQLite stores in tmp dirs, gpiozero's mock pins, rendered codes."""

from __future__ import annotations

from pathlib import Path

import pytest
from gpiozero import Device
from gpiozero.pins.mock import MockFactory

from browser import browser, page  # noqa: F401 - fixtures: one Chromium for the whole session
from codes import ManualTime
from hardware.feedback import FeedbackDevices, SignalPins
from kiosk.clock import Clock
from kiosk.door.checkin import CheckinDesk
from kiosk.store import VisitStore

# pyproject's --doctest-modules is for the packages' examples. The helper modules here hold no
# tests, and their examples need fixtures (tmp_path, a broker): they are not collected.
collect_ignore = [p.name for p in Path(__file__).parent.glob("*.py") if not p.name.startswith("test_")]


@pytest.fixture
def mock_factory():
    factory = MockFactory()
    yield factory
    factory.reset()
    Device.pin_factory = None


@pytest.fixture
def signals(mock_factory):
    s = FeedbackDevices(SignalPins(green_led=17, red_led=27, buzzer=22, relay=23), pin_factory=mock_factory)
    yield s
    s.close()


@pytest.fixture
def store(tmp_path):
    s = VisitStore.open(tmp_path / "kiosk.db")
    yield s
    s.close()


@pytest.fixture
def wall():
    return ManualTime(1_790_000_000.0)  # 2026-09-21, a plausible synced time


@pytest.fixture
def uptime():
    return ManualTime(1000.0)


@pytest.fixture
def clock(wall, uptime):
    return Clock("Asia/Ho_Chi_Minh", wall=wall, monotonic=uptime, synced=lambda w: True)


@pytest.fixture
def desk(store, clock):
    return CheckinDesk(store, clock, kiosk_id="test-kiosk-01", venue_id="cho-thu", mode="toggle")


@pytest.fixture
def mosquitto(tmp_path):
    from broker import Mosquitto
    broker = Mosquitto(tmp_path / "broker").start()
    yield broker
    broker.stop()


@pytest.fixture(scope="session")
def postgres():
    """A PostgreSQL server for the session (``.new_database()`` gives each test its own database).
    Missing PostgreSQL binaries fail the tests that need it, with the reason; they are not skipped."""
    import tempfile

    from mqtt.loopback.postgres import FAST_OPTIONS, PgServer, unavailable_reason
    reason = unavailable_reason()
    if reason:
        pytest.fail(f"{reason}: the test command installs postgresql (apt-get install postgresql)", pytrace=False)
    server = PgServer(tempfile.mkdtemp(prefix="checkin-pg-"), options=FAST_OPTIONS, remove=True).start()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request, tmp_path):
    """A central store URL, once SQLite and once PostgreSQL: the collector must behave the same."""
    if request.param == "sqlite":
        return f"sqlite://{tmp_path}/central/central.db"
    return request.getfixturevalue("postgres").new_database()
