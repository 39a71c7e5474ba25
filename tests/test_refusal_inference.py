"""The uplink's reading of the broker's answers (mqtt/refusal_inference.py), over sequences of
publishes, PUBACKs and closed connections.

:class:`Kiosk` drives a :class:`RefusalInference` the way the uplink does, against a scripted broker
(each event published gets the script's next answer, then the broker's standing behaviour), and
keeps the outbox's states the way ``kiosk/store/outbox.py`` changes them. Time is simulated.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from mqtt.refusal_inference import GUESS, REFUSED, RefusalInference

WINDOW = 5
RETRY_S = (1.0, 8.0)
#: answer -> PUBACK reason code ("close": no PUBACK, the connection ends)
CODES = {"ack": 0, "nobody": 16, "quota": 151, "refuse": 135, "refuse_close": 135}
ANSWERS = st.sampled_from([*CODES, "close"])


class Kiosk:
    """An uplink and its outbox in a few lines, with a broker that answers from a script."""

    def __init__(self, events: int, script=(), standing=lambda seq: "ack"):
        self.guess = RefusalInference(retry_s=RETRY_S, idle_retry_s=(0.5, 2.0))
        self.rows = {seq: ("pending", None) for seq in range(1, events + 1)}
        self.script = list(script)
        self.standing = standing
        self.now = 0.0
        self.up = False
        self.connections = 0
        self.inflight: list[int] = []
        self.testing: int | None = None

    # -- the outbox --------------------------------------------------------------------------

    def state(self, seq: int) -> str:
        return self.rows[seq][0]

    def where(self, state: str, prefix: str | None = None) -> list[int]:
        return sorted(seq for seq, (s, reason) in self.rows.items()
                      if s == state and (prefix is None or (reason or "").startswith(prefix)))

    def apply(self, verdict, seq: int | None = None) -> None:
        if verdict.release:
            for guessed in self.where("quarantined", GUESS):
                self.rows[guessed] = ("pending", self.rows[guessed][1])
        for aside, reason in verdict.set_aside:
            self.rows[aside] = ("quarantined", reason)
        if verdict.set_aside_pending:
            for pending in self.where("pending"):
                self.rows[pending] = ("quarantined", verdict.set_aside_pending)
            for refused in verdict.relabel:
                self.rows[refused] = ("quarantined", verdict.set_aside_pending)
        if verdict.sent and self.state(seq) == "pending":
            self.rows[seq] = ("sent", None)

    # -- the uplink --------------------------------------------------------------------------

    def step(self) -> None:
        if not self.up:
            self.up = True
            self.connections += 1
            self.guess.connected()
            self.now += 0.2
        self.publish()
        if self.inflight:
            self.answer(self.inflight[0])
        else:
            self.now += 0.25

    def publish(self) -> None:
        if self.guess.test_due(self.now):
            assert not self.inflight, "a test published with events in flight"
            rows = self.where("quarantined", GUESS) or (self.where("pending") if self.guess.topic_denied else [])
            if rows:
                self.testing = rows[0]
                self.inflight.append(rows[0])
                self.guess.published(rows[0], self.now, test=True)
            else:
                self.guess.nothing_to_test(self.now)
            return
        room = self.guess.room(WINDOW, self.now)
        assert 0 <= room <= WINDOW - len(self.inflight)
        assert room == 0 or self.testing is None, "an event published beside a test"
        for seq in [s for s in self.where("pending") if s not in self.inflight][:room]:
            self.inflight.append(seq)
            self.guess.published(seq, self.now)

    def answer(self, seq: int) -> None:
        kind = self.script.pop(0) if self.script else self.standing(seq)
        if kind == "close":
            self.close()
            return
        self.inflight.remove(seq)
        if seq == self.testing:
            self.testing = None
        code = CODES[kind]
        self.apply(self.guess.answered(seq, code, failure=code >= 128, now=self.now), seq)
        if kind == "refuse_close":
            self.close()

    def close(self) -> None:
        self.apply(self.guess.closed(self.now, "disconnected"))
        self.inflight.clear()
        self.testing = None
        self.up = False
        self.now += 0.1

    def run_for(self, seconds: float, max_steps: int = 20_000) -> None:
        end = self.now + seconds
        for _ in range(max_steps):
            if self.now >= end:
                return
            self.step()
        raise AssertionError("the simulation did not advance")


@settings(max_examples=300, deadline=None)
@given(events=st.integers(1, 40), script=st.lists(ANSWERS, max_size=60))
def test_after_any_answers_a_broker_that_accepts_again_gets_every_event_not_refused_for_good(events, script):
    """Whatever the broker (or the link) did before, once it accepts events every event reaches it
    except those it refused with PUBACK 135 on a connection it kept: nothing set aside on a guess
    stays set aside, nothing stays pending."""
    kiosk = Kiosk(events, script)
    kiosk.run_for(60)                                  # the script (what is left of it is not needed)
    kiosk.script.clear()
    kiosk.run_for(2 * RETRY_S[1] + 10)                 # the next test of any guess, and the drain
    assert kiosk.where("quarantined", GUESS) == [], kiosk.rows
    assert kiosk.where("pending") == [], kiosk.rows
    for seq in kiosk.where("quarantined"):
        assert kiosk.rows[seq][1] == REFUSED
    assert not kiosk.guess.topic_denied


@settings(max_examples=100, deadline=None)
@given(events=st.integers(2, 200), how=st.lists(st.sampled_from(["close", "refuse_close"]), min_size=1, max_size=8),
       seconds=st.floats(10, 600), recorded_later=st.integers(0, 5))
def test_a_broker_that_refuses_the_topic_for_good_costs_a_few_connections_not_one_per_event(
        events, how, seconds, recorded_later):
    """The broker refuses every event by closing the connection (reading the PUBACK 135 first or
    not): every event is set aside in a fixed number of connections whatever their number, events
    recorded meanwhile are set aside at the next test, and later only the tests cost a connection,
    their interval doubling up to the upper end."""
    kiosk = Kiosk(events, standing=lambda seq: how[seq % len(how)])
    kiosk.run_for(seconds / 2)
    for seq in range(events + 1, events + 1 + recorded_later):      # the door goes on recording
        kiosk.rows[seq] = ("pending", None)
    kiosk.run_for(seconds / 2)
    assert kiosk.guess.topic_denied
    assert kiosk.where("sent") == []
    assert kiosk.where("pending") in ([], kiosk.inflight), kiosk.rows
    tests = kiosk.guess.tests
    assert kiosk.connections <= 6 + tests, (kiosk.connections, tests)
    doublings = 4                                      # 1, 2, 4, 8 s, then every 8 s
    assert tests <= doublings + kiosk.now / RETRY_S[1] + 1, (tests, kiosk.now)


@settings(max_examples=100, deadline=None)
@given(events=st.integers(2, 60), poison=st.integers(1, 60), seconds=st.floats(10, 600))
def test_one_event_the_broker_always_closes_the_connection_for_is_set_aside_and_the_rest_delivered(
        events, poison, seconds):
    """One event makes the broker close the connection whenever it is published (too large for it):
    it is set aside on a guess, the others all go through, and testing the guess again costs one
    connection per test, the tests doubling apart."""
    poison = min(poison, events)
    kiosk = Kiosk(events, standing=lambda seq: "close" if seq == poison else "ack")
    kiosk.run_for(seconds)
    assert kiosk.where("sent") == [s for s in range(1, events + 1) if s != poison]
    assert kiosk.state(poison) == "quarantined" and kiosk.rows[poison][1].startswith(GUESS)
    assert not kiosk.guess.topic_denied
    tests = kiosk.guess.tests
    assert kiosk.connections <= 4 + tests, (kiosk.connections, tests)
    assert tests <= 4 + kiosk.now / RETRY_S[1] + 1, (tests, kiosk.now)


def test_a_refusal_on_a_connection_the_broker_keeps_is_final():
    """PUBACK 135 with the connection kept: the event is set aside for good (no guess); an event
    the broker accepts afterwards releases nothing."""
    kiosk = Kiosk(3, ["ack", "refuse"])
    kiosk.run_for(30)
    assert [kiosk.state(s) for s in (1, 2, 3)] == ["sent", "quarantined", "sent"]
    assert kiosk.rows[2][1] == REFUSED and kiosk.guess.tests == 0 and kiosk.connections == 1


def test_refusals_that_cost_the_connection_are_the_topics_and_come_back_with_it():
    """Two events answered PUBACK 135 and then a closed connection (Mosquitto 2.0.11 without a queue
    limit): the whole topic is taken as refused; those two are part of that guess, not final, and
    come back with the rest once the broker accepts the test."""
    kiosk = Kiosk(10, ["refuse_close", "refuse_close"], standing=lambda seq: "close")
    kiosk.run_for(1.0)                                 # before the first test (after 1 s)
    assert kiosk.script == []
    assert kiosk.guess.topic_denied
    assert kiosk.where("quarantined", GUESS) == list(range(1, 11)), kiosk.rows
    kiosk.standing = lambda seq: "ack"                 # the ACL fixed
    kiosk.run_for(2 * RETRY_S[1])
    assert kiosk.where("sent") == list(range(1, 11)) and not kiosk.guess.topic_denied


def test_guesses_of_an_earlier_run_are_tested_at_the_first_connection():
    guess = RefusalInference(retry_s=(60.0, 3600.0))
    assert guess.test_due(0.0) and guess.room(50, 0.0) == 0
    guess.nothing_to_test(0.0)                         # nothing was set aside
    assert not guess.test_due(0.0) and guess.room(50, 0.0) == 50
