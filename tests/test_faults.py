"""End to end under faults: kiosk outbox → uplink → Mosquitto → collector → central store → ack.

Each test records 1,000 check-ins (distinct persons), breaks one piece while events are in
flight, and ends with :func:`fault_support.end_exactly_once`: the central store holds every
event exactly once, no seq gap is left, and every outbox row on the kiosk is ``delivered``.

Faults land mid-flight on purpose: the test polls the count the fault interrupts (events in the
central store, rows delivered on the kiosk) every 2 ms and acts once half is through
(``N/2 <= count < N``), at a random moment within one batch where that matters; where
the fault is not to the piece that makes the count grow, that piece is held (SIGSTOP) meanwhile.
If everything arrived between two polls the test fails rather than passing without a fault.

The kiosk's re-send of events it never got an ack for (``resend_after_s``, 120 s in production)
is set to 30 s here, far beyond a drain (1-3 s). Every scenario also asserts that it was not
needed: the persistent sessions (broker queue, redelivery of what was not PUBACKed) must heal
each fault by themselves; the re-send only keeps a test from hanging if they do not.

Scenarios 1-4 run against both central stores (SQLite file, PostgreSQL database).
"""

from __future__ import annotations

import time

import pytest

from broker import Mosquitto, free_port
from fault_support import (
    RESEND_LOG,
    CollectorProcess,
    KioskUplinkProcess,
    act_mid_flight,
    delivered,
    end_exactly_once,
    in_process_uplink,
    outbox_states,
    record_timed,
    stop_uplink,
    store_event_count,
    write_collector_config,
)
from link_support import FlakyLink
from uplink_support import record_check_ins
from waiting import wait_for

N = 1000
DRAIN_TIMEOUT = 60.0


@pytest.fixture
def kiosk_db(store):
    return store.path


@pytest.fixture
def broker(tmp_path):
    b = Mosquitto(tmp_path / "broker")
    yield b
    b.stop()


def _collector(tmp_path, broker_url, store_url, name="collector-1", **kw) -> CollectorProcess:
    cfg = write_collector_config(tmp_path / f"{name}.toml", broker_url, store_url, client_id=name, **kw)
    return CollectorProcess(cfg, tmp_path / f"{name}.log")


def _all_delivered(kiosk_db, n=N, timeout=DRAIN_TIMEOUT, what="every outbox row delivered"):
    wait_for(lambda: delivered(kiosk_db) >= n, timeout, what, interval=0.1)


# -- 1. broker down while the kiosk records, then up -------------------------------------------

def test_broker_down_while_recording_then_up(tmp_path, store, kiosk_db, store_url):
    port = free_port()
    broker = Mosquitto(tmp_path / "broker", port=port)
    collector = _collector(tmp_path, f"mqtt://127.0.0.1:{port}", store_url)
    uplink = None
    try:
        # The central side has run before: the broker's persistence holds the collector's session
        # (its subscription), so events reaching the broker before the collector returns queue for it.
        broker.start()
        collector.start()
        collector.stop()
        broker.stop()

        uplink = in_process_uplink(kiosk_db, f"mqtt://127.0.0.1:{port}")
        uplink.start()
        took = record_timed(store, N)                     # nothing listens on the port meanwhile
        assert not uplink.connected and "cannot connect" in (uplink.last_error or ""), uplink.last_error
        assert sum(took) < 15 and max(took) < 0.5, \
            f"the door waited: {sum(took):.1f} s in all, slowest check-in {max(took) * 1000:.0f} ms"
        assert outbox_states(kiosk_db) == {"pending": N}

        broker.start()                                    # same port, same persistence
        collector.start()
        _all_delivered(kiosk_db)
        end_exactly_once(store_url, kiosk_db, collector, uplink=uplink)
    finally:
        stop_uplink(uplink)
        collector.ensure_dead()
        broker.stop()


# -- 2. broker restarted in the middle of a drain ---------------------------------------------

def test_broker_restart_mid_drain(tmp_path, store, kiosk_db, store_url, broker):
    collector = _collector(tmp_path, broker.url, store_url)
    uplink = None
    try:
        broker.start()
        collector.start()
        record_check_ins(store, N)
        uplink = in_process_uplink(kiosk_db, broker.url)
        uplink.start()
        # A tenth delivered: events are queued for the collector, in flight to it, and acks in flight
        # back. (At half, the other half could land between two polls: on a machine loaded with
        # three CI runs, the poller once slept through the ~30 ms the last 500 events take.)
        seen = act_mid_flight(lambda: delivered(kiosk_db), N, broker.restart,   # SIGTERM, then start
                              what="broker restart", at_least=N // 10)
        assert 0 < seen < N
        _all_delivered(kiosk_db)
        end_exactly_once(store_url, kiosk_db, collector, uplink=uplink)
    finally:
        stop_uplink(uplink)
        collector.ensure_dead()


# -- 3. collector SIGKILLed in the middle of a batch, restarted ----------------------------------

def test_collector_killed_mid_batch_then_restarted(tmp_path, store, kiosk_db, store_url, broker):
    collector = _collector(tmp_path, broker.url, store_url)
    uplink = count = None
    try:
        broker.start()
        collector.start()
        count = store_event_count(store_url)
        record_check_ins(store, N)
        uplink = in_process_uplink(kiosk_db, broker.url)
        uplink.start()
        # Once half is stored, a random moment within one batch (timed here): the writer is
        # gathering or committing a batch, messages are taken but not PUBACKed, acks are unsent.
        seen = act_mid_flight(count, N, collector.kill, what="collector SIGKILL", at_least=N // 2,
                              jitter=True)
        after = count()
        assert 0 < seen <= after < N, (seen, after)       # it died with events still to store
        time.sleep(1.0)                                   # the kiosk goes on publishing into the session
        collector.start()                                 # same client id: the session resumes
        _all_delivered(kiosk_db)
        end_exactly_once(store_url, kiosk_db, collector, uplink=uplink)
    finally:
        stop_uplink(uplink)
        if count:
            count.close()
        collector.ensure_dead()


# -- 4. kiosk SIGKILLed in the middle of a drain, restarted --------------------------------------

def test_kiosk_killed_mid_drain_then_restarted(tmp_path, store, kiosk_db, store_url, broker):
    collector = _collector(tmp_path, broker.url, store_url)
    kiosks: list[KioskUplinkProcess] = []
    try:
        broker.start()
        collector.start()
        record_check_ins(store, N)
        kiosks.append(KioskUplinkProcess(kiosk_db, broker.url, tmp_path / "kiosk-uplink-1.log"))
        # Once half is stored, the collector is held (SIGSTOP) while the kiosk, with acks still
        # arriving for what was stored, is killed at a random moment: some rows are delivered, the
        # rest are sent with no ack yet, whatever the speed of the drain. Held, the collector can
        # not store the rest before the kill, so the kiosk can not have every ack.
        def kill_once_acks_arrive():
            wait_for(lambda: delivered(kiosk_db) > 0, 10, "the first acks on the kiosk", interval=0.002)
            kiosks[0].kill()

        count = store_event_count(store_url)
        try:
            stored = act_mid_flight(count, N, kill_once_acks_arrive, what="kiosk SIGKILL", at_least=N // 2,
                                    jitter=True, hold=collector.paused)
        finally:
            count.close()
        states = outbox_states(kiosk_db)
        assert 0 < states.get("delivered", 0) <= stored < N, (stored, states)
        time.sleep(0.5)                                   # acks for it queue in its session meanwhile
        kiosks.append(KioskUplinkProcess(kiosk_db, broker.url, tmp_path / "kiosk-uplink-2.log"))  # same client id
        _all_delivered(kiosk_db)
        kiosks[1].kill()
        resent = [k.log_path.name for k in kiosks if RESEND_LOG in k.log()]
        # Fails when the kill lands between the uplink taking an ack off the wire and writing it
        # (a few ms per ack; ~1 run in 8 here): see test_kiosk_killed_around_an_ack[before_ack_commit].
        assert not resent, (f"the kiosk had to re-send unacked events ({resent}): an ack the killed kiosk had "
                            "already PUBACKed was never written to its outbox")
        end_exactly_once(store_url, kiosk_db, collector)
    finally:
        for k in kiosks:
            k.kill()
        collector.ensure_dead()


# -- 4b. the kiosk killed exactly around an ack --------------------------------------------------

ACK_LOST = ("BUG (mqtt/uplink.py): the killed kiosk had taken an ack off the wire and paho had already PUBACKed "
            "it (the client is made without manual_ack, line 151, so paho PUBACKs a QoS 1 message as soon as "
            "on_message returns), but Uplink only buffers the ids (_on_message, line 271) and writes them in "
            "_record() after loop() returns (line 284). Killed in between, the broker considers the ack "
            "delivered and never redelivers it: the events stay 'sent' until resend_after_s (120 s in "
            "production) and are published a second time. The collector acks only after its commit; the "
            "kiosk should mark rows delivered before PUBACKing the ack in the same way.")


@pytest.mark.parametrize("die", ["on_ack_message", "before_ack_commit"])
def test_kiosk_killed_around_an_ack(tmp_path, store, kiosk_db, broker, die):
    """The kiosk SIGKILLs itself the first time an ack reaches it: ``on_ack_message`` inside paho's
    on_message (before paho could PUBACK it), ``before_ack_commit`` after on_message returned (paho
    has PUBACKed it) but before the outbox rows are written. In both cases the restarted kiosk
    (same client id, resumed session) must get the ack again from the broker, with no need for its
    slow re-send of unacked events (here after 10 s; production 120 s)."""
    store_url = f"sqlite://{tmp_path}/central/central.db"
    collector = _collector(tmp_path, broker.url, store_url)
    kiosks: list[KioskUplinkProcess] = []
    try:
        broker.start()
        collector.start()
        record_check_ins(store, N)
        kiosks.append(KioskUplinkProcess(kiosk_db, broker.url, tmp_path / "kiosk-uplink-1.log", die=die,
                                         resend_after_s=10.0))
        assert kiosks[0].wait_dead(60) == -9, kiosks[0].log()
        states = outbox_states(kiosk_db)
        assert "delivered" not in states and states.get("sent", 0) > 0, states   # died at its first ack
        kiosks.append(KioskUplinkProcess(kiosk_db, broker.url, tmp_path / "kiosk-uplink-2.log", resend_after_s=10.0))
        _all_delivered(kiosk_db)                          # at worst healed by the re-send, after 10 s
        kiosks[1].kill()
        end_exactly_once(store_url, kiosk_db, collector)
        assert RESEND_LOG not in kiosks[1].log(), ACK_LOST + f"\nkiosk log:\n{kiosks[0].log()}{kiosks[1].log()}"
    finally:
        for k in kiosks:
            k.kill()
        collector.ensure_dead()


# -- 5. two collectors on one shared subscription, one PostgreSQL database -----------------------

def test_two_collectors_share_the_events_and_store_each_once(tmp_path, store, kiosk_db, broker, postgres):
    """Who stored what: each collector's clean stop logs ``collector stopped: R received, S stored,
    …``, where S counts the events *its* transactions inserted (``INSERT … ON CONFLICT DO NOTHING
    RETURNING``), so a duplicate handled by the other collector is not counted twice. Each S > 0
    shows the broker shared the events out; S1 + S2 == N, with the store holding N distinct
    events, shows nobody inserted anything twice. (``received`` also counts status and health
    messages, which are not shared, so it cannot show the split.)"""
    store_url = postgres.new_database()
    collectors = [_collector(tmp_path, broker.url, store_url, name=f"collector-{i}", shared_group="central")
                  for i in (1, 2)]
    uplink = None
    try:
        broker.start()
        for c in collectors:
            c.start()
        record_check_ins(store, N)
        uplink = in_process_uplink(kiosk_db, broker.url)
        uplink.start()
        _all_delivered(kiosk_db)
        stats = end_exactly_once(store_url, kiosk_db, *collectors, uplink=uplink)
        assert all(stats), f"a collector did not log its counters on stop: {stats}"
        stored = [s["stored"] for s in stats]
        assert all(s > 0 for s in stored), f"the shared subscription did not share: stored {stored}"
        assert sum(stored) == N, f"stored per collector {stored} do not add up to {N}"
    finally:
        stop_uplink(uplink)
        for c in collectors:
            c.ensure_dead()


# -- 6. the broker loses its state (SIGKILL between autosaves) -----------------------------------

#: What "everything at the collector soon after the broker and the collector are back" means (issue
#: 10, item 2). A delivery here takes a few seconds; the deadline is the target itself, far below
#: the 120 s re-send timer this scenario used to wait for.
BROKER_LOSS_DEADLINE_S = 30.0


def _timed_delivery(count, n: int, since: float, what: str) -> float:
    """Seconds from ``since`` until the central store holds ``n`` events (fails past the deadline)."""
    wait_for(lambda: count() >= n, BROKER_LOSS_DEADLINE_S - (time.monotonic() - since), what, interval=0.05)
    return time.monotonic() - since


def test_broker_state_lost_while_events_wait_for_an_offline_collector(tmp_path, store, kiosk_db, record_property):
    """Mosquitto (persistence on, autosave far away) holds 1,000 PUBACKed events for the offline
    collector's session and is SIGKILLed: its queue, the collector's session and subscription and
    the kiosk's session are gone. Broker and collector come back; the kiosk, seeing its session
    come back new, must publish again everything the collector has not acked, at once, without
    waiting for its re-send timer (production's 120 s, kept here so it cannot mask a loss)."""
    store_url = f"sqlite://{tmp_path}/central/central.db"
    broker = Mosquitto(tmp_path / "broker", autosave_s=3600)
    collector = _collector(tmp_path, broker.url, store_url)
    uplink = count = None
    try:
        broker.start()
        collector.start()                                 # its session and subscription, in memory only
        collector.stop()
        record_check_ins(store, N)
        uplink = in_process_uplink(kiosk_db, broker.url, resend_after_s=120.0)
        uplink.start()
        wait_for(lambda: outbox_states(kiosk_db) == {"sent": N}, DRAIN_TIMEOUT, "every event PUBACKed, queued "
                 "in the broker for the offline collector", interval=0.05)
        broker.kill()                                     # nothing saved: the queue vanishes with it
        broker.start()
        collector.start()
        back = time.monotonic()                           # both back: the collector has subscribed again
        count = store_event_count(store_url)
        took = _timed_delivery(count, N, back, "every event in the central store after the broker lost its state")
        record_property("broker_loss_delivery_s", round(took, 2))
        print(f"\nbroker state lost, collector offline: all {N} events stored {took:.1f} s after broker and "
              "collector were back")
        _all_delivered(kiosk_db)
        end_exactly_once(store_url, kiosk_db, collector, uplink=uplink)
    finally:
        stop_uplink(uplink)
        if count:
            count.close()
        collector.ensure_dead()
        broker.stop()


def test_broker_state_lost_mid_drain_with_the_collector_running(tmp_path, store, kiosk_db, record_property):
    """The broker is SIGKILLed (nothing saved) while the collector is storing a drain: events queued
    for it, acks queued for the kiosk and both sessions vanish. The collector's receiver reconnects by
    itself to a broker that knows nothing of it and must subscribe again; the kiosk must publish
    again every event whose ack it never got."""
    store_url = f"sqlite://{tmp_path}/central/central.db"
    broker = Mosquitto(tmp_path / "broker", autosave_s=3600)
    collector = _collector(tmp_path, broker.url, store_url)
    uplink = count = None
    try:
        broker.start()
        collector.start()
        count = store_event_count(store_url)
        record_check_ins(store, N)
        uplink = in_process_uplink(kiosk_db, broker.url, resend_after_s=120.0)
        uplink.start()
        seen = act_mid_flight(count, N, broker.kill, what="broker SIGKILL", at_least=N // 4)
        assert 0 < seen < N
        broker.start()
        back = time.monotonic()
        took = _timed_delivery(count, N, back, "every event in the central store after the broker lost its state")
        record_property("broker_loss_delivery_s", round(took, 2))
        print(f"\nbroker state lost mid-drain: all {N} events stored {took:.1f} s after the broker was back")
        _all_delivered(kiosk_db)
        end_exactly_once(store_url, kiosk_db, collector, uplink=uplink)
    finally:
        stop_uplink(uplink)
        if count:
            count.close()
        collector.ensure_dead()
        broker.stop()


# -- 7. a flapping link: the connection drops just as events are published, then holds ----------

@pytest.mark.parametrize("drops", [3, 5], ids=["one-event-guessed", "topic-guessed"])
def test_a_flapping_link_sets_events_aside_on_a_guess_and_delivers_them_once_it_holds(
        tmp_path, store, kiosk_db, broker, drops, record_property):
    """The kiosk's link drops the connection each time it publishes an event, a few times in a row:
    to the uplink this looks like a broker refusing the event (3 drops: one event published alone
    twice, each time followed by the close) or the whole events topic (5 drops: two such events),
    so it sets events aside on a guess. Once the link holds, the guess's next test (one event alone,
    after ``denied_retry_s``) is accepted and every event set aside is delivered, exactly once. The
    uplink used to keep them quarantined for good: lost to the centre."""
    store_url = f"sqlite://{tmp_path}/central/central.db"
    collector = _collector(tmp_path, broker.url, store_url)
    link = uplink = None
    try:
        broker.start()
        collector.start()                                 # straight to the broker, not over the link
        record_check_ins(store, N)
        link = FlakyLink(broker.port)
        link.drop_on_events(drops)
        uplink = in_process_uplink(kiosk_db, link.url, denied_retry_s=(2.0, 4.0))
        uplink.start()
        wait_for(lambda: link.dropped == drops, DRAIN_TIMEOUT, f"{drops} connections dropped on an event")
        _all_delivered(kiosk_db)
        end_exactly_once(store_url, kiosk_db, collector, uplink=uplink)
        assert uplink.quarantined >= 1, "no event was set aside: the link's drops did not look like refusals"
        record_property("set_aside_on_a_guess", uplink.quarantined)
    finally:
        stop_uplink(uplink)
        if link:
            link.close()
        collector.ensure_dead()
