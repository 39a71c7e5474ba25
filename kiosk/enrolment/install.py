"""Installing an identity: every file or none, never over an existing one.

Each file is written beside its place under a temporary name (exclusive create, fsync, mode and
owner set), then linked to its name (``link`` fails rather than replace), kiosk.toml last. On any
failure the files this call linked are removed again, so a half-enrolled kiosk is never left
behind. Run as root (the systemd unit): owners and modes as :data:`.bundle.FILES` says (files in
/etc/checkin-kiosk 0640 root:kiosk, the database 0600 kiosk:kiosk), both folders 0750 (root:kiosk,
kiosk:kiosk); run as anyone else: the same modes, owners untouched.
"""

from __future__ import annotations

import grp
import os
import pwd
from dataclasses import dataclass
from pathlib import Path

from hardware.atomic import sync_folder

from .bundle import DIR_MODE, DIR_OWNERS, FILES, FileSpec, place_under

KIOSK_USER = "kiosk"
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


class InstallError(Exception):
    """Nothing was installed; ``code`` is the message code, ``detail`` for the log (paths only)."""

    def __init__(self, code: str, detail: str = ""):
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code, self.detail = code, detail


@dataclass(frozen=True)
class Targets:
    etc: Path      # /etc/checkin-kiosk
    data: Path     # /var/lib/checkin-kiosk

    @classmethod
    def under(cls, root: Path) -> Targets:
        """The kiosk's folders in a file system rooted at ``root`` (``Path("/")``: the real ones)."""
        return cls(place_under(root, "etc"), place_under(root, "data"))

    def folder(self, place: str) -> Path:
        return self.etc if place == "etc" else self.data

    def path(self, spec: FileSpec) -> Path:
        return self.folder(spec.place) / spec.name

    def existing(self) -> list[Path]:
        """Files of an identity already there (any one means: enrolled, or someone's files). A
        leftover journal of another database counts too: SQLite would replay it into the new one."""
        paths = [self.path(s) for s in FILES]
        paths += [self.data / f"kiosk.db{suffix}" for suffix in SQLITE_SIDE_FILES]
        return [p for p in paths if os.path.lexists(p)]


@dataclass(frozen=True)
class Owners:
    """uid/gid to give the files, or None to leave them as created (not root)."""
    root_kiosk: tuple[int, int] | None
    kiosk_kiosk: tuple[int, int] | None

    @classmethod
    def for_this_process(cls) -> Owners:
        if os.geteuid() != 0:
            return cls(None, None)
        try:
            user, group = pwd.getpwnam(KIOSK_USER), grp.getgrnam(KIOSK_USER)
        except KeyError:
            raise InstallError("enrol_write_failed", f"there is no user and group {KIOSK_USER!r}") from None
        return cls((0, group.gr_gid), (user.pw_uid, group.gr_gid))

    def named(self, owner: str) -> tuple[int, int] | None:
        """The ids for ``owner`` as :mod:`.bundle` spells it ("root:kiosk" or "kiosk:kiosk")."""
        return {"root:kiosk": self.root_kiosk, "kiosk:kiosk": self.kiosk_kiosk}[owner]


def install(files: dict[str, bytes], targets: Targets, owners: Owners | None = None) -> list[Path]:
    """Install the identity's files; returns their paths. Raises :class:`InstallError`
    (``enrol_already_enrolled`` when any of them exists, ``enrol_write_failed``)."""
    owners = owners or Owners.for_this_process()
    if targets.existing():
        raise InstallError("enrol_already_enrolled", ", ".join(map(str, targets.existing())))
    linked: list[Path] = []
    temps: list[Path] = []
    try:
        for place, owner in DIR_OWNERS.items():
            _make_dir(targets.folder(place), DIR_MODE, owners.named(owner))
        staged = []
        for spec in FILES:
            final = targets.path(spec)
            temp = final.with_name(f".{spec.name}.enrol-{os.getpid()}")
            _write(temp, files[spec.name], spec.mode, owners.named(spec.owner))
            temps.append(temp)
            staged.append((temp, final))
        for directory in {targets.etc, targets.data}:
            sync_folder(directory)
        for temp, final in staged:
            os.link(temp, final)          # never replaces: FileExistsError if someone got there first
            linked.append(final)
        for directory in {targets.etc, targets.data}:
            sync_folder(directory)
    except FileExistsError as exc:
        _undo(linked)
        raise InstallError("enrol_already_enrolled", str(exc.filename)) from None
    except OSError as exc:
        _undo(linked)
        raise InstallError("enrol_write_failed", f"{exc.filename}: {exc.strerror}") from None
    finally:
        for temp in temps:
            _remove(temp)
    return linked


def _make_dir(path: Path, mode: int, owner: tuple[int, int] | None) -> None:
    """The folder, created with ``mode`` if missing; as root it is given ``owner`` in any case (a
    systemd StateDirectory= or ConfigurationDirectory= of a root unit is root's, and the kiosk must
    own its data folder and read its config folder)."""
    if not path.is_dir():
        path.mkdir(mode=mode, parents=True)
        os.chmod(path, mode)
    if owner:
        os.chown(path, *owner)


def _write(path: Path, data: bytes, mode: int, owner: tuple[int, int] | None) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        if owner:
            os.fchown(fd, *owner)
        os.fchmod(fd, mode)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)


def _undo(paths: list[Path]) -> None:
    for p in reversed(paths):
        _remove(p)


def _remove(path: Path) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
