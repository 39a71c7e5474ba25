"""The simulator's hand in front of the camera: ``POST /sim/present`` puts an uploaded image in the
image-folder camera's folder as its next presentation. Registered only in simulation (else 404).

The file must be a real image of a kind the camera reads, at most 10 MB; it is written under a
hidden temporary name and then renamed, so the camera never sees half a file. The uploader's
file name is not used.
"""

from __future__ import annotations

import io
import secrets
import time

from flask import Blueprint, jsonify, request
from PIL import Image, UnidentifiedImageError

from hardware.atomic import write_atomically

from ..messages import text
from .context import web_context
from .i18n import current_language
from .screen import local_only
from .security import MAX_UPLOAD_BYTES, refuse

bp = Blueprint("sim", __name__, url_prefix="/sim")
bp.before_request(local_only)

#: Pillow's format names the camera folder reads, and the suffix the file gets.
FORMATS = {"PNG": ".png", "JPEG": ".jpg", "GIF": ".gif", "BMP": ".bmp", "WEBP": ".webp", "TIFF": ".tif",
           "PPM": ".ppm"}
#: Larger images are refused before decoding (a small file can hold a huge image).
MAX_PIXELS = 40_000_000


@bp.post("/present")
def present():
    upload = request.files.get("image")
    if upload is None or not upload.filename:
        return refuse(400, "sim_no_file")
    data = upload.stream.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        return refuse(413, "web_too_large", mb=MAX_UPLOAD_BYTES // 2**20)
    try:
        suffix = _image_suffix(data)
    except ValueError:
        return refuse(415, "sim_not_image")
    if suffix is None:
        return refuse(413, "web_too_large", mb=MAX_UPLOAD_BYTES // 2**20)
    camera_dir = web_context().camera_dir
    camera_dir.mkdir(parents=True, exist_ok=True)
    name = f"sim-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}{suffix}"
    # A hidden temporary name (the camera skips dot-files), then one rename: never half a file.
    write_atomically(camera_dir / name, data)
    return jsonify(ok=True, message=text("sim_presented", current_language()))


def _image_suffix(data: bytes) -> str | None:
    """The file suffix for ``data``; None for an image too large to decode; ValueError when it is
    not a whole image of a kind the camera reads."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            if im.format not in FORMATS:
                raise ValueError(f"not a camera image format: {im.format}")
            if im.width * im.height > MAX_PIXELS:
                return None
            im.verify()
            return FORMATS[im.format]
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError) as exc:
        raise ValueError(f"not a readable image ({type(exc).__name__})") from exc
