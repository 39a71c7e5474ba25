"""Lights, buzzer and relay patterns, observed on gpiozero's own mock pins."""

from __future__ import annotations

import time

import pytest

from hardware.feedback import PATTERNS, FeedbackDevices, SignalPins


def pulses(pin):
    """(start, length) of each high period on a mock pin, relative to the first change."""
    states = pin.states[1:]   # [0] is the initial state
    out, start = [], None
    for s in states:
        if s.state and start is None:
            start = s.timestamp
        elif not s.state and start is not None:
            out.append((start, s.timestamp - start))
            start = None
    return out


@pytest.fixture
def pins(signals, mock_factory):
    get = mock_factory.pin
    p = {"green": get(17), "red": get(27), "buzzer": get(22), "relay": get(23)}
    for pin in p.values():
        pin.clear_states()
    return p


def lengths(pin):
    return [round(length, 1) for _, length in pulses(pin)]


def test_check_in_is_green_one_short_beep_and_a_door_pulse(signals, pins):
    signals.show("check_in")
    time.sleep(1.8)
    assert lengths(pins["green"]) == [1.5]
    assert len(pulses(pins["buzzer"])) == 1 and pulses(pins["buzzer"])[0][1] < 0.25
    assert lengths(pins["relay"]) == [1.0]
    assert pulses(pins["red"]) == []


def test_check_out_is_two_green_blinks_and_two_beeps_and_no_door(signals, pins):
    signals.show("check_out")
    time.sleep(1.2)
    assert len(pulses(pins["green"])) == 2
    assert len(pulses(pins["buzzer"])) == 2
    assert pulses(pins["relay"]) == [] and pulses(pins["red"]) == []


def test_refused_is_red_and_one_long_beep_and_the_door_stays_shut(signals, pins):
    signals.show("refused")
    time.sleep(2.3)
    assert lengths(pins["red"]) == [2.0]
    [(_, beep)] = pulses(pins["buzzer"])
    assert beep >= 0.5
    assert pulses(pins["green"]) == [] and pulses(pins["relay"]) == []
    assert pins["relay"].state == 0


def test_patterns_are_distinct_to_the_ear():
    beeps = {k: (p.buzzer.n, p.buzzer.on_time) for k, p in PATTERNS.items()}
    assert len(set(beeps.values())) == len(beeps)


def test_error_state_blinks_red_until_cleared(signals, pins):
    signals.set_error(True)
    time.sleep(1.6)
    assert len(pulses(pins["red"])) >= 1 and pins["red"].states[-1] is not None
    signals.show("refused")           # a refusal meanwhile keeps the error blink going
    time.sleep(1.1)
    assert len(pulses(pins["red"])) >= 2
    signals.set_error(False)
    time.sleep(0.05)
    assert pins["red"].state == 0


def test_active_low_relay_board_idles_high_and_pulses_low(mock_factory):
    s = FeedbackDevices(SignalPins(green_led=None, red_led=None, buzzer=None, relay=5, relay_active_high=False,
                           relay_pulse_s=0.3), pin_factory=mock_factory)
    pin = mock_factory.pin(5)
    assert pin.state == 1          # door shut: an active-low board's input held high
    s.show("check_in")
    time.sleep(0.1)
    assert pin.state == 0          # energised
    time.sleep(0.4)
    assert pin.state == 1
    s.close()


def test_button_calls_back(mock_factory):
    pressed = []
    s = FeedbackDevices(SignalPins(button=6), pin_factory=mock_factory, on_button=lambda: pressed.append(1))
    pin = mock_factory.pin(6)
    pin.drive_low()
    time.sleep(0.1)
    assert pressed == [1]
    s.close()


def test_unfitted_devices_are_skipped(mock_factory):
    s = FeedbackDevices(SignalPins(green_led=None, red_led=None, buzzer=None), pin_factory=mock_factory)
    for kind in PATTERNS:
        s.show(kind)
    s.set_error(True)
    s.close()
