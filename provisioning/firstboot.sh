#!/bin/bash
# First boot of a check-in kiosk: run once by cloud-init (runcmd) after the apt packages, the
# users and the files of user-data are in place. Written by kiosk-provision write-boot.
#
#   checkin-kiosk-firstboot PYTHON_VERSION REQUIREMENT BOOT_DIR WHEELHOUSE
#   e.g. checkin-kiosk-firstboot 3.13 checkin-kiosk==0.1.0 /boot/firmware checkin-kiosk
#
# (BOOT_DIR and WHEELHOUSE, the folder's name on it: provisioning/cloudinit.py's BOOT and BUNDLE_DIR.)
# Makes /opt/checkin-kiosk/.venv from the wheelhouse on the boot partition, enables and starts the
# kiosk's systemd units, and, whatever happened, removes the secrets from the boot partition
# (a FAT partition is readable by anyone holding the card). Logs: /var/log/cloud-init-output.log.
set -euo pipefail

want_python="$1"
requirement="$2"
boot="${3:?the boot partition's mount point}"
wheels="$boot/${4:?the wheelhouse's folder on it}"     # never empty: scrub removes it
venv=/opt/checkin-kiosk/.venv

say() { echo "checkin-kiosk-firstboot: $*" >&2; }

scrub() {
    local rc=$?
    set +e
    if [ -f "$boot/user-data" ]; then
        # Overwrite in place first: the FAT clusters of the old file would otherwise keep the keys.
        shred --iterations=1 --zero "$boot/user-data"
        cat >"$boot/user-data" <<'STUB'
#cloud-config
# checkin-kiosk: first boot has run and removed this file's secrets (the kiosk's private key,
# the venue key and the staff database). To provision this card again, run
# kiosk-provision write-boot: it writes a new instance-id, which makes first boot run again.
STUB
    fi
    rm -rf "$wheels"
    sync
    if [ "$rc" -eq 0 ]; then say "done"; else say "FAILED (status $rc); see above"; fi
    exit "$rc"
}
trap scrub EXIT

# The technician's way in comes first, so a later failure can be looked at over ssh.
systemctl enable --now --no-block ssh.service

have_python="$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
if [ "$have_python" != "$want_python" ]; then
    say "the wheelhouse is for Python $want_python but this system has Python $have_python;"
    say "make one with: kiosk-provision bundle --python $have_python, then write the card again"
    exit 1
fi

install -d -o root -g kiosk -m 0750 /etc/checkin-kiosk
install -d -o kiosk -g kiosk -m 0750 /var/lib/checkin-kiosk
install -d -o root -g root -m 0755 /opt/checkin-kiosk
python3 -m venv --system-site-packages "$venv"
"$venv/bin/pip" install --no-index --find-links "$wheels" --disable-pip-version-check "$requirement"
# picamera2 and OpenCV from apt are built against apt's numpy: the venv must not shadow it.
if ! "$venv/bin/python" -c 'import numpy, sys; sys.exit(not numpy.__file__.startswith("/usr/lib/python3/"))'; then
    say "numpy does not come from apt (python3-numpy): picamera2 would break"
    exit 1
fi

systemctl daemon-reload
# The enrolment unit runs only while /etc/checkin-kiosk/kiosk.toml is missing (an --unenrolled card).
systemctl enable checkin-kiosk-enrol.service checkin-kiosk.service checkin-kiosk-screen.service
# --no-block: cloud-init's final stage is itself a unit that must not wait on these.
systemctl start --no-block checkin-kiosk-enrol.service checkin-kiosk.service checkin-kiosk-screen.service
