"""The Raspberry Pi camera through picamera2: lores YUV420 stream, Y plane, zero-copy.

picamera2 is imported only when this source is chosen (it exists only on Raspberry Pi OS, from
apt; the kiosk's venv is made with ``--system-site-packages`` to see it).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .frames import CameraError, CameraSettings, SourceBase, T

_AF_MODES = {"manual": 0, "continuous": 2}


class Picamera2Source(SourceBase):
    """Grayscale frames from the Pi camera.

    Usage (on a Pi with its camera; ``decoder`` from :func:`hardware.decoders.open_decoder`)::

        camera = Picamera2Source(CameraSettings(lens_position=5.0))
        symbols = camera.process(decoder.decode)   # decodes the mapped Y plane, no copy

    The decoder reads the lores stream, whose Y plane is the grayscale image: no colour
    conversion at all. ``process`` hands the decoder a view into the mapped buffer and returns
    the buffer when the decoder is done (a few ms; holding it longer would stall the 4-6 buffer
    pipeline). ``read`` returns a copy, for callers that keep the frame.
    """

    name = "picamera2"

    def __init__(self, settings: CameraSettings, camera_num: int = 0):
        try:
            from picamera2 import MappedArray, Picamera2
        except ImportError as exc:
            raise CameraError("picamera2 is not installed (apt install python3-picamera2, and make "
                              "the venv with --system-site-packages)") from exc
        self._MappedArray = MappedArray
        try:
            cam = Picamera2(camera_num)
        except (IndexError, RuntimeError) as exc:
            raise CameraError("no Raspberry Pi camera found: check the ribbon cable and "
                              "'rpicam-hello --list-cameras'") from exc
        self.size = (settings.width, settings.height)
        controls = {}
        if settings.fps:
            controls["FrameRate"] = float(settings.fps)
        if "AfMode" in cam.camera_controls:
            controls["AfMode"] = _AF_MODES[settings.autofocus]
            if settings.autofocus == "manual" and settings.lens_position is not None:
                controls["LensPosition"] = float(settings.lens_position)
            if settings.autofocus == "continuous":
                controls["AfRange"] = 1  # Macro: codes are held 10-30 cm from the lens
        if settings.exposure_us is not None:
            controls["AeEnable"] = False
            controls["ExposureTime"] = int(settings.exposure_us)
        if settings.analogue_gain is not None:
            controls["AnalogueGain"] = float(settings.analogue_gain)
        config = cam.create_video_configuration(
            main={"size": self.size},
            lores={"size": self.size, "format": "YUV420"},
            controls=controls,
        )
        try:
            cam.configure(config)
            cam.start()
        except RuntimeError as exc:
            cam.close()
            raise CameraError(f"the camera cannot start: {exc}") from exc
        self._cam = cam

    def process(self, fn: Callable[[np.ndarray], T]) -> T:
        w, h = self.size
        try:
            with self._cam.captured_request() as request:
                with self._MappedArray(request, "lores") as mapped:
                    # YUV420 arrives as (h*3/2, stride): the first h rows are Y; the stride may be
                    # wider than w for alignment, hence the [:h, :w] view (non-contiguous is fine
                    # for both decoders).
                    return fn(mapped.array[:h, :w])
        except RuntimeError as exc:
            raise CameraError(f"the camera stopped delivering frames: {exc}") from exc

    def read(self) -> np.ndarray:
        return self.process(np.array)

    def close(self) -> None:
        if self._cam is not None:
            self._cam.stop()
            self._cam.close()
            self._cam = None
