"""The image-folder camera (contract) and the OpenCV source, on real files."""

from __future__ import annotations

import os
import shutil
import time

import numpy as np
import pytest
from PIL import Image

from codes import CCCD_MAU, CCCD_THU, qr_image, write_qr
from hardware.decoders import open_decoder
from hardware.frames import CameraError, CameraSettings, open_source


def settings(**kw):
    return CameraSettings(**{"fps": 50, "presentation_s": 0.3, **kw})


def read_for(camera, seconds):
    frames, end = [], time.monotonic() + seconds
    while time.monotonic() < end:
        frames.append(camera.read())
    return frames


def read_until(camera, condition, timeout=10.0):
    """Read frames until ``condition()`` holds (a file moved, say): the camera's time, not a guess."""
    frames, end = [], time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "the camera never got there"
        frames.append(camera.read())
    return frames


def decoded(frames):
    d = open_decoder("zxing")
    return [s.text for f in frames for s in d.decode(f)]


def test_each_file_is_one_presentation_then_moves_to_done(tmp_path):
    camera = open_source(f"dir:{tmp_path}", settings())
    write_qr(tmp_path / "a.png", CCCD_MAU)
    frames = read_for(camera, 0.8)
    texts = decoded(frames)
    assert texts and set(texts) == {CCCD_MAU}
    assert all(f.shape == (480, 640) and f.dtype == np.uint8 for f in frames)
    # about presentation_s of frames with the code (50 fps x 0.3 s), then the empty scene
    assert 8 <= len(texts) <= 20
    assert decoded(frames[-5:]) == []
    assert not (tmp_path / "a.png").exists() and (tmp_path / "done" / "a.png").exists()
    camera.close()


def test_files_are_shown_in_order_of_arrival(tmp_path):
    camera = open_source(f"dir:{tmp_path}", settings(presentation_s=0.2))
    write_qr(tmp_path / "b.png", CCCD_MAU)
    time.sleep(0.02)
    write_qr(tmp_path / "a.png", CCCD_THU)
    texts = decoded(read_for(camera, 1.0))
    first_seen = list(dict.fromkeys(texts))
    assert first_seen == [CCCD_MAU, CCCD_THU]


def test_a_name_already_in_done_is_kept_not_overwritten(tmp_path):
    camera = open_source(f"dir:{tmp_path}", settings(presentation_s=0.1))
    for n in (1, 2):
        write_qr(tmp_path / "same.png", CCCD_MAU)
        read_until(camera, lambda n=n: len(list((tmp_path / "done").iterdir())) == n)
    assert sorted(p.name for p in (tmp_path / "done").iterdir()) == ["same.1.png", "same.png"]


def test_unreadable_and_foreign_files(tmp_path, caplog):
    camera = open_source(f"dir:{tmp_path}", settings())
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / ".hidden.png").write_bytes(b"partial")
    frames = read_for(camera, 0.3)
    assert decoded(frames) == []
    assert (tmp_path / "done" / "broken.png").exists()            # moved aside, not retried forever
    assert (tmp_path / "notes.txt").exists() and (tmp_path / ".hidden.png").exists()  # left alone
    assert "broken" not in caplog.text                           # file names are not logged


def test_a_file_still_being_written_waits_until_complete(tmp_path):
    camera = open_source(f"dir:{tmp_path}", settings())
    full = tmp_path / "full.png"
    write_qr(full, CCCD_MAU)
    data = full.read_bytes()
    full.unlink()
    partial = tmp_path / "slow.png"
    partial.write_bytes(data[: len(data) // 2])
    camera.read()
    camera.read()
    with partial.open("ab") as f:                # the writer finishes
        f.write(data[len(data) // 2:])
    assert set(decoded(read_for(camera, 0.6))) == {CCCD_MAU}


def test_multi_frame_images_show_every_frame(tmp_path):
    first, second = qr_image(CCCD_MAU), qr_image(CCCD_THU)
    second = second.resize(first.size)
    first.save(tmp_path / "anim.gif", save_all=True, append_images=[second], duration=100, loop=0)
    camera = open_source(f"dir:{tmp_path}", settings(presentation_s=0.4))
    assert set(decoded(read_for(camera, 0.7))) == {CCCD_MAU, CCCD_THU}


def test_large_photos_are_scaled_into_the_frame(tmp_path):
    code = qr_image(CCCD_MAU, scale=12)
    photo = Image.new("L", (2400, 1800), 200)
    photo.paste(code, (600, 400))
    photo.save(tmp_path / "photo.jpg", quality=92)
    camera = open_source(f"dir:{tmp_path}", settings())
    frames = read_for(camera, 0.3)
    assert frames[-1].shape == (480, 640)
    assert CCCD_MAU in decoded(frames)


def test_folder_that_cannot_be_created(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(CameraError, match="cannot be created"):
        open_source(f"dir:{blocker}/camera", settings())


def test_folder_removed_while_running_is_a_camera_error(tmp_path):
    cam_dir = tmp_path / "cam"
    camera = open_source(f"dir:{cam_dir}", settings())
    shutil.rmtree(cam_dir)
    with pytest.raises(CameraError, match="cannot be read"):
        read_for(camera, 0.2)


def test_unknown_source_spec():
    with pytest.raises(ValueError, match="picamera2"):
        open_source("usb0")


def test_picamera2_absent_is_a_clear_camera_error():
    pytest.importorskip("numpy")
    try:
        import picamera2  # noqa: F401
        pytest.skip("picamera2 is installed: this machine is a Pi")
    except ImportError:
        pass
    with pytest.raises(CameraError, match="picamera2 is not installed"):
        open_source("picamera2")


def test_opencv_source_reads_frames_from_a_video(tmp_path):
    cv2 = pytest.importorskip("cv2")
    path = str(tmp_path / "clip.avi")
    writer = cv2.VideoWriter(path, cv2.VideoWriter_fourcc(*"MJPG"), 15, (640, 480))
    frame = np.full((480, 640), 170, np.uint8)
    code = np.asarray(qr_image(CCCD_MAU))
    frame[100:100 + code.shape[0], 200:200 + code.shape[1]] = code
    for _ in range(5):
        writer.write(cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR))
    writer.release()
    camera = open_source(f"v4l2:{path}", settings())
    got = camera.read()
    assert got.shape == (480, 640) and got.ndim == 2
    assert decoded([got]) == [CCCD_MAU]
    for _ in range(4):
        camera.read()
    with pytest.raises(CameraError, match="stopped delivering"):
        camera.read()                    # the clip ended: like an unplugged camera
    camera.close()


def test_opencv_missing_device_is_a_clear_error(tmp_path):
    pytest.importorskip("cv2")
    with pytest.raises(CameraError, match="not found"):
        open_source(f"v4l2:{tmp_path}/nothing.avi", settings())


def test_presented_images_are_private_and_deleted_after_an_hour(tmp_path):
    """A presented image is someone's card: owner-only in done/, gone an hour after it was shown."""
    from hardware.camera_folder import DONE_KEEP_S, ImageFolderSource

    done = tmp_path / "done"
    done.mkdir()
    left_over = done / "yesterday.png"                  # from a run before a restart
    write_qr(left_over, CCCD_THU)
    old = time.time() - DONE_KEEP_S - 60
    os.utime(left_over, (old, old))
    camera = ImageFolderSource(tmp_path, settings(presentation_s=0.1))
    src = tmp_path / "a.png"
    write_qr(src, CCCD_MAU)
    src.chmod(0o644)
    os.utime(src, (old, old))                            # `cp -p` of an old sample keeps its time
    read_until(camera, lambda: not src.exists())
    assert not left_over.exists()                        # pruned when the camera started
    shown = done / "a.png"
    assert shown.exists() and shown.stat().st_mode & 0o777 == 0o600
    assert camera.prune_done() == 0                      # aged from when it was shown, not its mtime
    assert camera.prune_done(now=time.time() + DONE_KEEP_S - 5) == 0
    assert camera.prune_done(now=time.time() + DONE_KEEP_S + 5) == 1
    assert not shown.exists()
    camera.close()
