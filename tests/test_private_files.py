"""The stores hold visitors' names, ids and phones: their files are 0600 on disk (the database and
SQLite's -wal and -shm beside it), whatever the umask, and a looser file an earlier version left is
tightened when the store opens."""

from __future__ import annotations

import os
import stat

import pytest

from kiosk.store import VisitStore
from mqtt.collector.store_sqlite import SqliteStore


def modes(path):
    return {p.name: stat.S_IMODE(p.stat().st_mode) for p in path.parent.iterdir() if p.name.startswith(path.name)}


@pytest.fixture
def open_umask():
    old = os.umask(0o022)            # the usual umask: 0644 files unless the code says otherwise
    yield
    os.umask(old)


@pytest.mark.parametrize("kind", ["kiosk", "collector"])
def test_a_new_store_and_its_wal_files_are_owner_only(tmp_path, open_umask, kind):
    path = tmp_path / f"{kind}.db"
    store = VisitStore.open(path) if kind == "kiosk" else SqliteStore(path)
    try:
        found = modes(path)
        assert {f"{kind}.db", f"{kind}.db-wal", f"{kind}.db-shm"} <= set(found), found
        assert set(found.values()) == {0o600}, found
    finally:
        store.close()


@pytest.mark.parametrize("kind", ["kiosk", "collector"])
def test_a_world_readable_store_from_before_is_tightened(tmp_path, open_umask, kind):
    path = tmp_path / f"{kind}.db"
    store = VisitStore.open(path) if kind == "kiosk" else SqliteStore(path)
    store.close()
    for p in tmp_path.iterdir():
        p.chmod(0o644)
    store = VisitStore.open(path) if kind == "kiosk" else SqliteStore(path)
    try:
        assert set(modes(path).values()) == {0o600}
    finally:
        store.close()
