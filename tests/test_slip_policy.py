"""When slips are printed: always, on request (the button just after a check-in), never."""

from __future__ import annotations

from codes import ManualTime, cccd_payload
from kiosk.credentials import recognise
from kiosk.printing.queue import PrintQueue
from kiosk.printing.slips import BUTTON_WINDOW_S, SlipPolicy


def queued(queue):
    return [(j["kind"], j["subject"]) for j in queue.queued()]


def test_always_queues_a_slip_for_every_check_in_and_nothing_else(desk, store):
    woken = []
    queue = PrintQueue(store, on_queued=lambda: woken.append(1))
    policy = SlipPolicy(queue.enqueue, "always")
    check_in = desk.present(recognise(cccd_payload(1)))
    policy.show(check_in)
    policy.show(desk.present(recognise(cccd_payload(1))))            # a check-out: no slip
    assert queued(queue) == [("slip", check_in.visit_id)] and woken == [1]


def test_on_request_prints_only_when_the_button_follows_a_check_in(desk, store):
    queue = PrintQueue(store)
    now = ManualTime(100.0)
    policy = SlipPolicy(queue.enqueue, "on_request", monotonic=now)
    assert policy.button() is False                                  # nothing to print yet
    check_in = desk.present(recognise(cccd_payload(2)))
    policy.show(check_in)
    assert queued(queue) == []
    assert policy.button() is True and queued(queue) == [("slip", check_in.visit_id)]
    assert policy.button() is False                                  # one press, one slip
    policy.show(desk.present(recognise(cccd_payload(3))))
    now.advance(BUTTON_WINDOW_S + 1)
    assert policy.button() is False                                  # too long after the check-in


def test_never_means_never(desk, store):
    queue = PrintQueue(store)
    policy = SlipPolicy(queue.enqueue, "never")
    policy.show(desk.present(recognise(cccd_payload(4))))
    assert policy.button() is False and queued(queue) == []


def test_the_kiosks_button_asks_for_the_slip(mock_factory, desk, store):
    """gpiozero's mock pin pressed: the slip of the check-in just made is queued."""
    from hardware.feedback import FeedbackDevices, SignalPins
    from waiting import wait_for
    queue = PrintQueue(store)
    policy = SlipPolicy(queue.enqueue, "on_request")
    signals = FeedbackDevices(SignalPins(green_led=17, red_led=27, buzzer=22, button=5), pin_factory=mock_factory)
    try:
        signals.set_button(policy.button)
        check_in = desk.present(recognise(cccd_payload(5)))
        policy.show(check_in)
        pin = mock_factory.pin(5)
        pin.drive_low()                  # pressed (the button pulls the pin to ground)
        pin.drive_high()
        # gpiozero calls back on its own thread.
        assert wait_for(lambda: queued(queue), timeout=5) == [("slip", check_in.visit_id)]
    finally:
        signals.close()


def test_a_staff_check_in_is_printed_when_all_are_but_is_never_the_buttons_slip(desk, store):
    """Field fix (review, item 1): whoever presses the button stands at the door; the slip of
    someone staff just checked in (their name, a code that checks them out) is not theirs."""
    from kiosk.door.outcome import Outcome
    queue = PrintQueue(store)
    policy = SlipPolicy(queue.enqueue, "on_request")
    staff_check_in = desk.present(recognise(cccd_payload(6)), method="staff_phone", mode="entry")
    policy.staff_show(staff_check_in)
    assert policy.button() is False and queued(queue) == []
    door = desk.present(recognise(cccd_payload(7)))
    policy.show(door)
    policy.staff_show(desk.present(recognise(cccd_payload(8)), method="staff_phone", mode="entry"))
    assert policy.button() is True and queued(queue) == [("slip", door.visit_id)]   # still the door's
    # Any other answer at the door (someone else's refusal or check-out) ends the claim.
    policy.show(desk.present(recognise(cccd_payload(9))))
    policy.show(Outcome("refused", reason="payment_qr"))
    assert policy.button() is False and queued(queue) == [("slip", door.visit_id)]
    always = SlipPolicy(queue.enqueue, "always")
    always.staff_show(staff_check_in)
    assert queued(queue)[-1] == ("slip", staff_check_in.visit_id)
