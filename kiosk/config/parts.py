"""The config's settings for the kiosk's parts: the camera's, the lights', the decoder's, the
uplink's. Used by the kiosk's assembly (:mod:`kiosk.app`), the self-test, enrolment, the CLI and
the bench, so each part is set up from ``kiosk.toml`` in one way.

Apart from :mod:`kiosk.config` itself because these import ``hardware`` and ``mqtt.uplink``;
provisioning reads configs without loading either.
"""

from __future__ import annotations

from hardware.decoders import open_decoder
from hardware.feedback import SignalPins
from hardware.frames import CameraSettings
from mqtt.uplink import UplinkSettings

from . import Config


def camera_settings(config: Config) -> CameraSettings:
    c = config.camera
    return CameraSettings(width=c.width, height=c.height, fps=c.fps, lens_position=c.lens_position,
                          autofocus=c.autofocus, exposure_us=c.exposure_us, analogue_gain=c.analogue_gain,
                          presentation_s=c.presentation_s)


def signal_pins(config: Config) -> SignalPins:
    g = config.gpio
    return SignalPins(green_led=g.green_led, red_led=g.red_led, buzzer=g.buzzer, relay=g.relay,
                      relay_active_high=g.relay_active_high, relay_pulse_s=g.relay_pulse_s, button=g.button)


def decoder_from_config(config: Config, backend: str | None = None):
    """The decoder the config asks for (``backend`` overrides the config's choice)."""
    backend = backend or config.decoder.backend
    options = ({"try_downscale": config.decoder.try_downscale, "try_invert": config.decoder.try_invert,
                "budget_ms": config.decoder.budget_ms} if backend == "zxing" else {})
    return open_decoder(backend, symbologies=config.decoder.symbologies, **options)


def mock_pin_factory():
    from gpiozero.pins.mock import MockFactory
    return MockFactory()


def uplink_settings(config: Config) -> UplinkSettings:
    m = config.mqtt
    return UplinkSettings(url=m.url, kiosk_id=config.kiosk.id, tls_ca=m.tls_ca or None,
                          tls_cert=m.tls_cert or None, tls_key=m.tls_key or None,
                          health_interval_s=m.health_interval_s, resend_after_s=m.resend_after_s)
