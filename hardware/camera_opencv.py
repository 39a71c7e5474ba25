"""USB (UVC) cameras through OpenCV's V4L2 backend."""

from __future__ import annotations

import os

import numpy as np

from .frames import CameraError, CameraSettings, SourceBase

_READ_RETRIES = 5


class OpenCVSource(SourceBase):
    """Grayscale frames from a V4L2 device.

    Usage (a USB camera, and OpenCV: the ``v4l2`` extra)::

        camera = OpenCVSource("/dev/video0", CameraSettings(width=640, height=480, fps=15))
        frame = camera.read()

    device: ``/dev/videoN``, a device index (``"0"``), or a video file (used by the tests,
        through OpenCV's default backend).
    settings: frame size and fps requested from the camera (it may choose the nearest mode).
    """

    name = "v4l2"

    def __init__(self, device: str, settings: CameraSettings):
        try:
            import cv2
        except ImportError as exc:
            raise CameraError("USB cameras need OpenCV: pip install 'checkin-kiosk[v4l2]' "
                              "or apt install python3-opencv") from exc
        self._cv2 = cv2
        if device.isdigit():
            target, backend = int(device), cv2.CAP_V4L2
        elif device.startswith("/dev/"):
            target, backend = device, cv2.CAP_V4L2
        else:
            if not os.path.exists(device):
                raise CameraError(f"camera {device} not found")
            target, backend = device, cv2.CAP_ANY
        cap = cv2.VideoCapture(target, backend)
        if not cap.isOpened():
            raise CameraError(f"camera {device} cannot be opened: is it plugged in, and is the "
                              "service user in the 'video' group?")
        if backend == cv2.CAP_V4L2:
            # MJPG lets USB 2 cameras deliver 640x480 at full rate; a 1-frame buffer keeps the
            # frame we decode current instead of up to a second old.
            cap.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter_fourcc(*"MJPG"))
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, settings.width)
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, settings.height)
            cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
            if settings.fps:
                cap.set(cv2.CAP_PROP_FPS, settings.fps)
            if settings.exposure_us is not None:
                cap.set(cv2.CAP_PROP_AUTO_EXPOSURE, 1)  # V4L2 "manual mode"
                cap.set(cv2.CAP_PROP_EXPOSURE, settings.exposure_us / 100.0)  # V4L2 units: 100 µs
        self._cap = cap
        self.device = device

    def read(self) -> np.ndarray:
        for _ in range(_READ_RETRIES):
            ok, frame = self._cap.read()
            if ok and frame is not None:
                if frame.ndim == 2:
                    return frame
                return self._cv2.cvtColor(frame, self._cv2.COLOR_BGR2GRAY)
        raise CameraError(f"camera {self.device} stopped delivering frames (unplugged?)")

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None
