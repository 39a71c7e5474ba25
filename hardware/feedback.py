"""Lights, buzzer, door relay and button: gpiozero devices with pins from config.

>>> import time
>>> from gpiozero.pins.mock import MockFactory
>>> with FeedbackDevices(SignalPins(green_led=17, red_led=27, buzzer=22), pin_factory=MockFactory()) as signals:
...     signals.show("check_in")      # green light, one short beep (and a door pulse, with a relay pin)
...     time.sleep(0.2)               # the patterns play in background threads
...     signals.green.is_lit, signals.red.is_lit
(True, False)

Each outcome has its own pattern (see :data:`PATTERNS`) so a visitor who cannot read the screen
still knows: one beep and green = in, two beeps and green blinks = out, long beep and red = no.
"""

from __future__ import annotations

from dataclasses import dataclass

from gpiozero import LED, Button, Buzzer, DigitalOutputDevice


@dataclass(frozen=True)
class Blink:
    """on_time, off_time (seconds), n times."""

    on_time: float
    off_time: float
    n: int


@dataclass(frozen=True)
class Pattern:
    green: Blink | None = None
    red: Blink | None = None
    buzzer: Blink | None = None
    relay: bool = False


PATTERNS = {
    "check_in": Pattern(green=Blink(1.5, 0.0, 1), buzzer=Blink(0.12, 0.0, 1), relay=True),
    "check_out": Pattern(green=Blink(0.25, 0.25, 2), buzzer=Blink(0.08, 0.08, 2)),
    "refused": Pattern(red=Blink(2.0, 0.0, 1), buzzer=Blink(0.6, 0.0, 1)),
    "error": Pattern(red=Blink(2.0, 0.0, 1), buzzer=Blink(0.15, 0.1, 3)),
    # Not yet: questions to answer on the screen first (two medium beeps to look at it; door shut).
    "declare": Pattern(buzzer=Blink(0.3, 0.15, 2)),
}
#: While the kiosk cannot record (disk full, camera down): red blinks until it recovers.
ERROR_BLINK = Blink(0.5, 0.5, 0)


@dataclass(frozen=True)
class SignalPins:
    """BCM pin numbers; None = not fitted.

    relay_active_high: False for the common active-low relay boards.
    relay_pulse_s: how long the door relay is held on an accepted check-in.
    """

    green_led: int | None = 17
    red_led: int | None = 27
    buzzer: int | None = 22
    relay: int | None = None
    relay_active_high: bool = True
    relay_pulse_s: float = 1.0
    button: int | None = None


class FeedbackDevices:
    """The kiosk's feedback devices: the green and red lights, the buzzer, the door relay and the
    optional button (named for what they are, not ``Signals``: that is the stdlib's ``signal.Signals``).

    pins: :class:`SignalPins`; pin_factory: a gpiozero pin factory (None: gpiozero's default,
        lgpio on a Pi; ``MockFactory()`` in simulation and tests).
    on_button: called (no arguments) when the optional button is pressed.
    """

    def __init__(self, pins: SignalPins, *, pin_factory=None, on_button=None):
        self.pins = pins
        kw = {"pin_factory": pin_factory}
        self.green = LED(pins.green_led, **kw) if pins.green_led is not None else None
        self.red = LED(pins.red_led, **kw) if pins.red_led is not None else None
        self.buzzer = Buzzer(pins.buzzer, **kw) if pins.buzzer is not None else None
        # initial_value=False: the door stays shut across restarts, whatever the board's polarity.
        self.relay = (DigitalOutputDevice(pins.relay, active_high=pins.relay_active_high, initial_value=False, **kw)
                      if pins.relay is not None else None)
        self.button = Button(pins.button, bounce_time=0.05, **kw) if pins.button is not None else None
        if on_button is not None:
            self.set_button(on_button)
        self.in_error = False

    def set_button(self, callback) -> None:
        """Call ``callback`` (no arguments) when the optional button is pressed."""
        if self.button is not None:
            self.button.when_pressed = lambda: callback()

    def show(self, outcome: str) -> None:
        """Play the pattern of ``outcome`` (``check_in``, ``check_out``, ``refused``, ``error``,
        ``declare``). Never blocks."""
        pattern = PATTERNS[outcome]
        self._play(self.green, pattern.green)
        if not self.in_error:  # keep the error blink visible; the buzzer still tells this outcome
            self._play(self.red, pattern.red)
        self._play(self.buzzer, pattern.buzzer)
        if pattern.relay and self.relay is not None:
            self.relay.blink(on_time=self.pins.relay_pulse_s, off_time=0, n=1, background=True)

    def set_error(self, on: bool) -> None:
        """Enter or leave the error state (red blinking until cleared)."""
        if on == self.in_error:
            return
        self.in_error = on
        if self.red is not None:
            if on:
                self.red.blink(ERROR_BLINK.on_time, ERROR_BLINK.off_time, n=None, background=True)
            else:
                self.red.off()

    @staticmethod
    def _play(device, blink: Blink | None) -> None:
        if device is None or blink is None:
            return
        if isinstance(device, Buzzer):
            device.beep(blink.on_time, blink.off_time, n=blink.n, background=True)
        else:
            device.blink(blink.on_time, blink.off_time, n=blink.n, background=True)

    def close(self) -> None:
        for device in (self.green, self.red, self.buzzer, self.relay, self.button):
            if device is not None:
                device.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
