"""The clock reading recorded with every event."""

from __future__ import annotations

from kiosk.clock import EARLIEST_PLAUSIBLE, Clock, iso


def test_stamp_has_offset_boot_and_uptime():
    clock = Clock("Asia/Ho_Chi_Minh", wall=lambda: 1629000662.153, monotonic=lambda: 8123.4, synced=lambda w: True)
    s = clock.stamp()
    assert iso(s.at) == "2021-08-15T11:11:02.153+07:00"
    assert s.as_event_clock() == {"synced": True, "boot_id": clock.boot_id, "uptime_s": 8123.4}


def test_a_time_before_the_firmware_existed_is_never_synced():
    clock = Clock("Asia/Ho_Chi_Minh", wall=lambda: EARLIEST_PLAUSIBLE - 1)
    assert clock.stamp().synced is False


def test_boot_id_is_the_kernels():
    with open("/proc/sys/kernel/random/boot_id") as f:
        assert Clock().boot_id == f.read().strip()


def test_default_uptime_is_monotonic_and_positive():
    c = Clock()
    a, b = c.uptime(), c.uptime()
    assert 0 < a <= b


def test_under_the_units_syscall_filter_timesyncds_flag_file_tells(monkeypatch, tmp_path):
    """The kiosk unit's ProtectClock= makes adjtimex() fail with EPERM even to read; then the
    kiosk asks systemd-timesyncd's flag file instead of calling every plausible time synced."""
    import ctypes
    import errno

    from kiosk import clock

    def refused(_timex):
        ctypes.set_errno(errno.EPERM)
        return -1

    flag = tmp_path / "synchronized"
    monkeypatch.setattr(clock, "_adjtimex", lambda: refused)
    monkeypatch.setattr(clock, "TIMESYNC_FLAG", str(flag))
    assert clock._kernel_synced() is False
    assert Clock().stamp().synced is False
    flag.touch()
    assert clock._kernel_synced() is True
    assert Clock().stamp().synced is True
