"""Read the raster images back out of an ESC/POS byte stream.

Proves that what went to the printer is what was rendered (the tests), and shows a technician
what a captured job would print (``.bin`` files of the file printer, a ``tcpdump`` of port 9100)::

    [image] = raster_images(Path("var/printer/20261121T013102.153204Z-0001.bin").read_bytes())
    image.save("job.png")

What python-escpos sends for an image comes back as that image:

>>> from PIL import ImageChops
>>> from hardware.escpos_job import job_bytes
>>> slip = Image.new("1", (384, 100), 1)
>>> slip.paste(0, (40, 20, 200, 60))            # a black bar
>>> [printed] = raster_images(job_bytes(slip, width=384))
>>> printed.size, ImageChops.difference(printed.convert("L"), slip.convert("L")).getbbox()
((384, 100), None)

Only ``GS v 0`` (raster bit image) blocks are decoded, the only way this kiosk prints. The
stream is walked from the start and each block's data is skipped as a whole, so image bytes
are never mistaken for commands; other commands are stepped over byte by byte.
"""

from __future__ import annotations

from dataclasses import dataclass

from PIL import Image

_GS_V_0 = b"\x1dv0"
_HEADER = len(_GS_V_0) + 5         # m, xL, xH, yL, yH


@dataclass(frozen=True)
class RasterBlock:
    """One ``GS v 0`` command: ``stream[start:data]`` is its header, ``stream[data:end]`` its rows.

    mode: 0 normal, 1 double width, 2 double height, 3 both (the pixels are returned unscaled).
    """

    start: int
    data: int
    end: int
    mode: int
    width_bytes: int
    height: int


def raster_blocks(stream: bytes) -> list[RasterBlock]:
    """Every ``GS v 0`` block in ``stream``, in order. ValueError if one is cut short."""
    blocks, i = [], 0
    while (i := stream.find(_GS_V_0, i)) >= 0:
        header = stream[i + len(_GS_V_0):i + _HEADER]
        if len(header) < 5:
            raise ValueError(f"GS v 0 at byte {i}: the stream ends inside its header")
        mode, width_bytes, height = header[0] % 48, header[1] | header[2] << 8, header[3] | header[4] << 8
        end = i + _HEADER + width_bytes * height
        if end > len(stream):
            raise ValueError(f"GS v 0 at byte {i}: {width_bytes}x{height} bytes announced, "
                             f"{len(stream) - i - _HEADER} present")
        blocks.append(RasterBlock(i, i + _HEADER, end, mode, width_bytes, height))
        i = end
    return blocks


def raster_images(stream: bytes) -> list[Image.Image]:
    """The images ``stream`` prints, mode "1" (black = printed dot), width a multiple of 8.

    Blocks that follow each other directly with the same width and mode are one image: python-
    escpos sends a tall image as fragments of at most 960 rows, and it comes back whole.
    """
    images: list[list[RasterBlock]] = []
    for block in raster_blocks(stream):
        previous = images[-1][-1] if images else None
        if previous and previous.end == block.start and (previous.width_bytes, previous.mode) == \
                (block.width_bytes, block.mode):
            images[-1].append(block)
        else:
            images.append([block])
    out = []
    for run in images:
        rows = b"".join(stream[b.data:b.end] for b in run)
        size = (run[0].width_bytes * 8, sum(b.height for b in run))
        out.append(Image.frombytes("1", size, rows, "raw", "1;I"))   # raster bit 1 = black
    return out
