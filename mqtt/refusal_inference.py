"""What the broker's answers to the kiosk's events say: how many events may be in flight, which to
set aside, when to test a guess again, and when the guesses were wrong. The uplink consults it.

A broker says "not authorised" plainly (PUBACK 135 on a connection it keeps), or, like Mosquitto
2.0.11, by closing the connection just after a denied PUBLISH, often before the kiosk can read the
PUBACK. The second answer looks the same as a flapping link or a broker in a restart loop, so what
is concluded from it is a *guess*:

- an event published alone :data:`STRIKES` times, each time followed by the connection closing
  within :data:`ANSWER_WITHIN_S`, is set aside (it may be too large for the broker, or refused);
- two refusals in a row that each cost the connection (closed on alone, or PUBACK 135 and then
  closed) say the broker refuses the whole events topic: every pending event is set aside at once,
  and only tests are published until the broker accepts one (O(1) connections per episode, not
  one per event).

Events set aside on a guess carry a reason starting with :data:`GUESS`. After ``retry_s`` (doubling
while the guess holds, up to its upper end) one of them is published alone as a test; the first
event the broker accepts while the topic is taken as refused, or an accepted test, proves the
guesses wrong and sends every guessed event back to pending (``Verdict.release``). A PUBACK 135
on a connection the broker keeps, and the collector's refusals, are final and never released.

Pure logic: the uplink reports what happened (:meth:`published`, :meth:`answered`, :meth:`closed`,
with the time) and writes to the outbox what the returned :class:`Verdict` says.

>>> guess = RefusalInference()
>>> guess.room(window=50, now=0.0)          # guesses of an earlier run are tested first
0
>>> guess.nothing_to_test(now=0.0)          # the outbox holds none
>>> guess.room(window=50, now=0.0)
50
>>> guess.published(1, now=0.0)
>>> guess.answered(1, NOT_AUTHORIZED, failure=True, now=0.1).set_aside     # on a kept connection: final
[(1, 'PUBACK 135 Not authorized')]
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: PUBACK reason codes. 16 "no matching subscribers": the broker took the event but holds it for
#: nobody (no collector session exists), so it stays pending; 135 "not authorized".
NO_MATCHING_SUBSCRIBERS = 16
NOT_AUTHORIZED = 135
#: A connection that ends this soon after an event was published, before its PUBACK, or after a
#: refusal, is taken as the broker's answer to that event.
ANSWER_WITHIN_S = 5.0
#: An event published alone this many times, each time followed by the broker closing the
#: connection, is set aside: one such close may be a coincidence, two are not.
STRIKES = 2
#: The start of every reason an event is set aside for on a guess (the outbox's
#: ``requeue_quarantined`` finds them by it).
GUESS = "set aside on a guess, tried again later: "
#: The reason of an event the broker refused with PUBACK 135 on a connection it kept (final).
REFUSED = "PUBACK 135 Not authorized"


@dataclass
class Verdict:
    """What the uplink does with the outbox after an answer or a closed connection.

    release: every event set aside on a guess goes back to pending (first of all: a test event
    being marked sent is one of them); sent: the event answered is PUBACKed (pending -> sent);
    set_aside: (seq, reason) of events to quarantine; set_aside_pending: every pending event is
    quarantined with this reason, and so are the seqs in ``relabel`` (refused earlier, they are
    part of the topic's refusal); denied: the broker is newly taken to refuse the events topic.
    """

    release: bool = False
    sent: bool = False
    set_aside: list[tuple[int, str]] = field(default_factory=list)
    set_aside_pending: str | None = None
    relabel: list[int] = field(default_factory=list)
    denied: bool = False


class RefusalInference:
    """The uplink's reading of the broker's answers, per kiosk run.

    retry_s: a guess is tested after the lower end, doubling per failed test up to the upper end;
    idle_retry_s: after PUBACK 16 (or another temporary failure) events pause this long, doubling,
    and then go one at a time until one is accepted.
    """

    def __init__(self, *, retry_s: tuple[float, float] = (60.0, 3600.0),
                 idle_retry_s: tuple[float, float] = (0.5, 5.0)):
        self.retry_s = retry_s
        self.idle_retry_s = idle_retry_s
        #: The broker is taken to refuse the kiosk's events topic: only tests are published.
        self.topic_denied = False
        #: How many tests of a guess were published in this run (each costs at most a connection).
        self.tests = 0
        self._outstanding: dict[int, float] = {}      # seq -> published at (this connection, no PUBACK)
        self._refused_at: dict[int, float] = {}       # seq -> PUBACK 135 at (this connection)
        self._one_at_a_time = False                   # one event in flight until one is accepted
        self._idle_until = 0.0
        self._idle_delay = idle_retry_s[0]
        self._strikes: dict[int, int] = {}            # seq -> closes with it alone in flight
        self._costly: list[int] = []                  # refused in a row, each costing the connection
        self._test: int | None = None                 # seq of the test in flight
        self._retry_at: float | None = 0.0            # guesses of an earlier run are tested at once
        self._retry_delay = retry_s[0]

    # -- what may be published --------------------------------------------------------------

    def test_due(self, now: float) -> bool:
        """Time to test the guesses: publish one event set aside on a guess (or, while the topic is
        taken as refused and none is left, one pending event) alone, with ``test=True``."""
        return (self._retry_at is not None and now >= self._retry_at and self._test is None
                and not self._outstanding and now >= self._idle_until)

    def nothing_to_test(self, now: float) -> None:
        """No event is set aside on a guess (nor pending, while the topic is taken as refused)."""
        self._retry_at = now + self._retry_delay if self.topic_denied else None

    def room(self, window: int, now: float) -> int:
        """How many more (pending) events may be published now."""
        if self.topic_denied or self._test is not None or now < self._idle_until:
            return 0
        if self._retry_at is not None and now >= self._retry_at:
            return 0                        # a test is due: it goes alone, once these are answered
        return max(0, (1 if self._one_at_a_time else window) - len(self._outstanding))

    # -- what happened ----------------------------------------------------------------------

    def connected(self) -> None:
        """A new connection (the last one's events were reported by :meth:`closed`)."""
        self._idle_until = 0.0

    def published(self, seq: int, now: float, *, test: bool = False) -> None:
        self._outstanding[seq] = now
        if test:
            self._test = seq
            self._retry_at = None
            self.tests += 1

    def gave_up(self, seq: int, now: float) -> None:
        """No PUBACK for too long on a live connection: the event is published again later."""
        self._outstanding.pop(seq, None)
        if seq == self._test:
            self._test = None
            self._schedule_retry(now)

    def answered(self, seq: int, code: int, *, failure: bool, now: float) -> Verdict:
        """The broker's PUBACK for event ``seq``: reason ``code`` (``failure``: code >= 128)."""
        self._outstanding.pop(seq, None)
        test = seq == self._test
        if test:
            self._test = None
        if code == NOT_AUTHORIZED:
            self._refused_at[seq] = now
            if test or self.topic_denied:
                return self._test_failed(now)
            return Verdict(set_aside=[(seq, REFUSED)])
        if failure:                         # e.g. quota exceeded: it stays pending, retried soon
            if test:
                self._schedule_retry(now)
            self._pause(now)
            return Verdict()
        # The broker accepts the topic: refusals so far were about those events alone.
        self._strikes.pop(seq, None)
        self._costly.clear()
        verdict = Verdict()
        if test or self.topic_denied:       # the guesses were wrong (or are out of date)
            verdict.release = True
            self.topic_denied = False
            self._retry_at = None
            self._retry_delay = self.retry_s[0]
        if code == NO_MATCHING_SUBSCRIBERS:
            self._pause(now)                # nothing holds it: it stays pending
            return verdict
        self._one_at_a_time = False
        self._idle_delay = self.idle_retry_s[0]
        verdict.sent = True
        return verdict

    def closed(self, now: float, why: str) -> Verdict:
        """The connection ended: what the events in flight and the refusals just before say."""
        outstanding, self._outstanding = self._outstanding, {}
        refused = [seq for seq, at in self._refused_at.items() if now - at <= ANSWER_WITHIN_S]
        self._refused_at = {}
        test, self._test = self._test, None
        verdict = Verdict()
        failed = False                      # a refusal that cost this connection
        if refused:
            # The broker closes the connection after a refusal: each refusal costs a connection.
            self._costly.extend(seq for seq in refused if seq not in self._costly)
            failed = True
        elif len(outstanding) == 1:
            ((seq, at),) = outstanding.items()
            if now - at <= ANSWER_WITHIN_S and (seq == test or self._one_at_a_time):
                if seq == test:
                    failed = True           # the guess holds
                else:
                    strikes = self._strikes[seq] = self._strikes.get(seq, 0) + 1
                    if strikes >= STRIKES:
                        del self._strikes[seq]
                        verdict.set_aside.append((seq, GUESS + "the broker closed the connection each time this "
                                                  f"event was published alone ({strikes} times; last: {why})"))
                        self._schedule_first_retry(now)
                        failed = True
                if failed and seq not in self._costly:
                    self._costly.append(seq)
        if test is not None and test in outstanding:
            self._schedule_retry(now)       # the test was refused, or went unanswered
        if outstanding:
            self._one_at_a_time = True
        if self.topic_denied:
            if failed:
                verdict.set_aside_pending = self._topic_reason()     # what was recorded meanwhile
        elif len(self._costly) >= 2:
            self.topic_denied = True
            verdict.denied = True
            verdict.set_aside_pending = self._topic_reason()
            verdict.relabel = list(self._costly)
            self._schedule_first_retry(now)
        return verdict

    # -- inside -----------------------------------------------------------------------------

    def _test_failed(self, now: float) -> Verdict:
        self._schedule_retry(now)
        return Verdict(set_aside_pending=self._topic_reason() if self.topic_denied else None)

    def _topic_reason(self) -> str:
        refused = ", ".join(map(str, self._costly[-2:])) or "the last tried"
        return (GUESS + f"the broker refuses this kiosk's events topic (not authorised: events {refused} were "
                "refused, each closing the connection); published again once it accepts an event")

    def _pause(self, now: float) -> None:
        """Publish no event for a while, then one (the rest of the window answers alike meanwhile)."""
        self._one_at_a_time = True
        if now >= self._idle_until:
            self._idle_until = now + self._idle_delay
            self._idle_delay = min(self.idle_retry_s[1], self._idle_delay * 2)

    def _schedule_first_retry(self, now: float) -> None:
        if self._retry_at is None:
            self._schedule_retry(now)

    def _schedule_retry(self, now: float) -> None:
        self._retry_at = now + self._retry_delay
        self._retry_delay = min(self.retry_s[1], self._retry_delay * 2)
