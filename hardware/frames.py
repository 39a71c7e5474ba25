"""Frame sources: where grayscale frames come from.

One interface, three backends, chosen by config ``[camera] source``:

>>> import tempfile
>>> with tempfile.TemporaryDirectory() as folder, open_source(f"dir:{folder}") as camera:
...     frame = camera.read()          # 2-D uint8 array, height x width (a Y plane)
...     frame.shape, frame.dtype
((480, 640), dtype('uint8'))

``picamera2``       the Raspberry Pi camera (lores YUV420 stream, Y plane, zero-copy)
``v4l2:/dev/videoN`` a USB camera through OpenCV
``dir:PATH``        the image-folder camera: each image dropped into PATH is one presentation
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

import numpy as np

T = TypeVar("T")


class CameraError(RuntimeError):
    """The camera cannot deliver frames (absent, unplugged, busy). The message says what to check."""


@dataclass(frozen=True)
class CameraSettings:
    """Settings shared by the frame sources (config ``[camera]``).

    width, height: frame size in pixels (default 640x480; the decoder's cost grows with area).
    fps: frames per second to deliver; 0 means as fast as possible (benchmarks).
    lens_position: manual focus in dioptres for Camera Module 3 (e.g. 5.0 ≈ 20 cm); None keeps
        the tuning file's default.
    autofocus: ``"manual"`` (fixed lens_position) or ``"continuous"``.
    exposure_us: fixed exposure time in microseconds; None = automatic.
    analogue_gain: fixed gain; None = automatic.
    presentation_s: image-folder camera only: how long each image is shown (default 1.0).
    """

    width: int = 640
    height: int = 480
    fps: float = 15.0
    lens_position: float | None = None
    autofocus: str = "manual"
    exposure_us: int | None = None
    analogue_gain: float | None = None
    presentation_s: float = 1.0


class FrameSource(Protocol):
    name: str

    def read(self) -> np.ndarray:
        """The next frame (the caller may keep it); waits about one frame time at most.

        Raises :class:`CameraError`.
        """

    def process(self, fn: Callable[[np.ndarray], T]) -> T:
        """Apply ``fn`` to the next frame and return its result.

        The frame is valid only during the call: the Pi camera passes its mapped buffer itself
        (zero-copy) and takes it back afterwards, so ``fn`` must not keep a reference to it.
        """

    def close(self) -> None: ...


def open_source(spec: str, settings: CameraSettings | None = None) -> FrameSource:
    """Open the frame source named by ``spec`` (the config's ``[camera] source``)."""
    settings = settings or CameraSettings()
    if spec == "picamera2":
        from .camera_picamera2 import Picamera2Source
        return Picamera2Source(settings)
    if spec.startswith("v4l2:"):
        from .camera_opencv import OpenCVSource
        return OpenCVSource(spec[len("v4l2:"):], settings)
    if spec.startswith("dir:"):
        from .camera_folder import ImageFolderSource
        return ImageFolderSource(spec[len("dir:"):], settings)
    raise ValueError(f'camera source must be "picamera2", "v4l2:/dev/videoN" or "dir:PATH", got {spec!r}')


class SourceBase:
    """Shared behaviour of the sources: ``process`` over ``read``, and context-manager support."""

    def process(self, fn: Callable[[np.ndarray], T]) -> T:
        return fn(self.read())

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:  # pragma: no cover - overridden
        pass
