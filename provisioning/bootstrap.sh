#!/usr/bin/env bash
# Set up this machine for checkin-kiosk and run it, its tests or its benchmarks.
#
#   provisioning/bootstrap.sh run [kiosk run options]   install, then run a loopback Mosquitto,
#                                                        the collector and the kiosk (simulated
#                                                        where there is no camera)
#   provisioning/bootstrap.sh test [pytest options]     install, then run the test suite
#   provisioning/bootstrap.sh bench                     install, then run the benchmarks
#
# Installs what it needs: apt packages (with sudo when not root), a venv in .venv made from the
# system Python with --system-site-packages (so Raspberry Pi OS's apt picamera2 and lgpio are
# visible), and this package into it. Safe to run again: it only does what is missing.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
action="${1:-}"
[ $# -gt 0 ] && shift

# libusb-1.0-0: pyusb's backend for USB receipt printers; fonts-dejavu-core: slips are drawn in DejaVu Sans.
apt_run=(python3 python3-venv python3-dev libzbar0 libusb-1.0-0 fonts-dejavu-core mosquitto)
# Tests start their own Mosquitto and PostgreSQL servers on loopback (never the system services),
# and drive Debian's Chromium through Playwright (never Playwright's own browser downloads);
# systemd-analyze checks the unit files. kiosk-provision write-boot's tests build a disk image
# (fdisk's sfdisk, mtools), make an ssh key (openssh-client) and check the cloud-init seed with
# `cloud-init schema` and `netplan generate --root-dir`; neither configures this machine (on a PC
# or VM without a cloud datasource, cloud-init's ds-identify leaves it disabled). The SMS tests run
# Gammu's own SMS daemon (gammu-smsd) against its dummy phone, started by the tests themselves.
apt_test=(postgresql chromium libnss3-tools systemd fdisk mtools openssh-client cloud-init netplan.io gammu-smsd)
run_extras="v4l2,console"
if grep -qs "Raspberry Pi" /proc/device-tree/model; then
    # picamera2's compiled parts are built against apt's numpy: take OpenCV from apt too, so pip
    # never installs a numpy into the venv that would shadow it.
    apt_run+=(python3-picamera2 python3-lgpio python3-opencv)
    run_extras="console"
fi

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

install_apt() {
    local missing=()
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "bootstrap: installing ${missing[*]}" >&2
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
}

install_venv() {
    local extras="$1"
    if [ ! -x .venv/bin/python ]; then
        echo "bootstrap: creating .venv" >&2
        /usr/bin/python3 -m venv --system-site-packages .venv
    fi
    # Reinstall only when the package definition changed since the last install.
    local hash
    hash="$(sha256sum pyproject.toml | cut -c1-16)"
    local stamp=".venv/.installed-$hash-$extras"
    if [ ! -e "$stamp" ]; then
        echo "bootstrap: installing checkin-kiosk[$extras] into .venv" >&2
        .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip >/dev/null
        .venv/bin/python -m pip install -q --disable-pip-version-check -e ".${extras:+[$extras]}"
        find .venv -maxdepth 1 -name ".installed-*" ! -name ".installed-$hash-*" -delete
        touch "$stamp"
    fi
}

case "$action" in
    run)
        install_apt "${apt_run[@]}"
        install_venv "$run_extras"
        # Mosquitto on loopback, the collector and the kiosk, stopped together by Ctrl-C.
        exec .venv/bin/python -m provisioning.devstack "$@"
        ;;
    test)
        install_apt "${apt_run[@]}" "${apt_test[@]}"
        install_venv "test"
        set +e
        # Lint and type-check first (a second each), then the tests; any failure fails the command.
        .venv/bin/ruff check --quiet .
        lint=$?
        .venv/bin/mypy
        types=$?
        .venv/bin/python -m pytest "$@"
        rc=$?
        # pytest's 5 means no test ran: that must not pass as green.
        if [ $rc -eq 5 ]; then echo "bootstrap: no tests were collected" >&2; exit 1; fi
        if [ $lint -ne 0 ]; then echo "bootstrap: ruff found problems (above)" >&2; [ $rc -eq 0 ] && rc=1; fi
        if [ $types -ne 0 ]; then echo "bootstrap: mypy found problems (above)" >&2; [ $rc -eq 0 ] && rc=1; fi
        exit $rc
        ;;
    bench)
        install_apt "${apt_run[@]}" "${apt_test[@]}"
        install_venv "test"
        exec .venv/bin/python -m bench "$@"
        ;;
    *)
        echo "usage: provisioning/bootstrap.sh run|test|bench [options]" >&2
        exit 2
        ;;
esac
