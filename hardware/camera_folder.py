"""The image-folder camera (contract): each image file that appears in a folder is one presentation.

The file's frames are shown for about ``presentation_s`` seconds, then the file moves to
``PATH/done/`` and the camera sees an empty scene until the next file. Simulation, tests and
technicians use it to feed codes without a camera.

A presented image is a photograph of someone's card (a CCCD's QR holds the whole identity), so
``done/`` keeps it readable by its owner only and for at most ``DONE_KEEP_S`` (an hour: long
enough to see what was shown, far shorter than any visit data), then deletes it.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, ImageSequence, UnidentifiedImageError

from .frames import CameraError, CameraSettings, SourceBase
from .pacing import Pacer

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".pgm", ".ppm", ".pnm", ".tif", ".tiff", ".webp"}
#: A file larger than this is not an image anyone meant to show; it is moved aside unread.
MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_FRAMES_PER_FILE = 60
_SCENE_GRAY = 170  # an evenly lit, empty scene
_POLL_S = 0.05
#: How long a presented image stays in ``done/`` before it is deleted.
DONE_KEEP_S = 3600.0
_PRUNE_EVERY_S = 60.0


def load_frames(path: Path, width: int, height: int) -> list[np.ndarray]:
    """The frames of an image file as camera frames: grayscale, exactly ``height x width``.

    An image larger than the frame is scaled down to fit (as a camera further away would see
    it); a smaller one is placed in the middle of an empty scene. Raises ``ValueError`` for a
    file that is not a readable image.
    """
    try:
        with Image.open(path) as im:
            frames = []
            for page in ImageSequence.Iterator(im):
                frames.append(_fit(ImageOps.exif_transpose(page).convert("L"), width, height))
                if len(frames) >= MAX_FRAMES_PER_FILE:
                    break
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError) as exc:
        raise ValueError(f"not a readable image ({type(exc).__name__})") from exc
    if not frames:
        raise ValueError("image has no frames")
    return frames


def _fit(img: Image.Image, width: int, height: int) -> np.ndarray:
    if img.width > width or img.height > height:
        img = ImageOps.contain(img, (width, height), Image.Resampling.LANCZOS)
    canvas = Image.new("L", (width, height), _SCENE_GRAY)
    canvas.paste(img, ((width - img.width) // 2, (height - img.height) // 2))
    return np.asarray(canvas)


class ImageFolderSource(SourceBase):
    """Frames from images dropped into a folder.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     camera = ImageFolderSource(folder, CameraSettings(width=320, height=240, fps=20))
    ...     Image.new("L", (100, 100), 0).save(f"{folder}/card.png")     # a black square held up
    ...     frames = [camera.read() for _ in range(6)]  # shown once its size is unchanged at a poll
    ...     frames[0].shape, int(frames[0].min()), min(int(frame.min()) for frame in frames[1:])
    ((240, 320), 170, 0)

    path: the folder to watch (created if missing); processed files go to ``path/done/``.
    settings: frame size, fps, presentation time (see :class:`CameraSettings`).
    keep_s: how long a processed file stays in ``done/`` (default :data:`DONE_KEEP_S`).
    """

    name = "dir"

    def __init__(self, path: str | os.PathLike, settings: CameraSettings, *, keep_s: float = DONE_KEEP_S):
        self.path = Path(path)
        self.done = self.path / "done"
        try:
            self.done.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CameraError(f"camera folder {self.path} cannot be created: {exc.strerror}") from exc
        self.settings = settings
        self._pacer = Pacer(settings.fps)
        self._empty = np.full((settings.height, settings.width), _SCENE_GRAY, np.uint8)
        self._frames: list[np.ndarray] = []
        self._current: Path | None = None
        self._until = 0.0
        self._index = 0
        self._sizes: dict[Path, int] = {}
        self._next_poll = 0.0
        self.keep_s = keep_s
        self._next_prune = 0.0

    def read(self) -> np.ndarray:
        self._pacer.wait()
        now = time.monotonic()
        if self._current is not None and now >= self._until:
            self._finish()
            self._next_poll = now  # the next waiting file, if any, is shown at once
        if self._current is None and now >= self._next_poll:
            self._next_poll = now + _POLL_S
            self._start_next(now)
        if now >= self._next_prune:
            self._next_prune = now + _PRUNE_EVERY_S
            self.prune_done()
        if self._current is None:
            return self._empty
        frame = self._frames[self._index % len(self._frames)]
        self._index += 1
        return frame

    def _start_next(self, now: float) -> None:
        for path in self._ready_files():
            try:
                self._frames = load_frames(path, self.settings.width, self.settings.height)
            except ValueError as exc:
                log.warning("camera folder: skipped a file that is %s", exc)
                self._move_to_done(path)
                continue
            self._current, self._index, self._until = path, 0, now + self.settings.presentation_s
            return

    def _ready_files(self) -> list[Path]:
        """Image files whose size did not change since the last poll (not still being written)."""
        try:
            entries = list(os.scandir(self.path))
        except OSError as exc:
            raise CameraError(f"camera folder {self.path} cannot be read: {exc.strerror}") from exc
        sizes, ready = {}, []
        for e in entries:
            p = Path(e.path)
            if e.name.startswith(".") or p.suffix.lower() not in IMAGE_SUFFIXES or not e.is_file():
                continue
            st = e.stat()
            if st.st_size > MAX_FILE_BYTES:
                log.warning("camera folder: skipped a file over %d MB", MAX_FILE_BYTES // 2**20)
                self._move_to_done(p)
                continue
            sizes[p] = st.st_size
            if self._sizes.get(p) == st.st_size and st.st_size > 0:
                ready.append((st.st_mtime_ns, e.name, p))
        self._sizes = sizes
        return [p for _, _, p in sorted(ready)]

    def _finish(self) -> None:
        self._move_to_done(self._current)
        self._current, self._frames = None, []

    def _move_to_done(self, path: Path) -> None:
        target = self.done / path.name
        n = 1
        while target.exists():
            target = self.done / f"{path.stem}.{n}{path.suffix}"
            n += 1
        try:
            path.rename(target)
            # Owner-only, and aged from now (a copied file may carry an old time): see DONE_KEEP_S.
            os.chmod(target, 0o600)
            os.utime(target)
        except FileNotFoundError:
            pass  # removed by someone else meanwhile: nothing left to move
        except OSError as exc:
            raise CameraError(f"camera folder {self.path}: cannot move a shown file to done/: {exc.strerror}") from exc
        self._sizes.pop(path, None)

    def prune_done(self, now: float | None = None) -> int:
        """Delete the files in ``done/`` presented more than ``keep_s`` ago; returns how many."""
        cutoff = (time.time() if now is None else now) - self.keep_s
        removed = 0
        try:
            entries = list(os.scandir(self.done))
        except OSError:
            return 0    # done/ gone or unreadable: nothing to prune, the next move says why
        for e in entries:
            try:
                if e.is_file(follow_symlinks=False) and e.stat(follow_symlinks=False).st_mtime < cutoff:
                    os.unlink(e.path)
                    removed += 1
            except FileNotFoundError:
                pass
            except OSError as exc:
                log.warning("camera folder: cannot delete a presented image from done/: %s", exc.strerror)
        return removed

    def close(self) -> None:
        self._frames = []
