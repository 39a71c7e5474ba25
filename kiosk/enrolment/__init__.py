"""Zero-touch enrolment: a kiosk with no identity scans the code of ``kiosk-provision enrol-qr``.

The code (:mod:`.payload`, ``CKE1.HOST:PORT.KEY``) names the technician laptop's one-shot offer
and carries the AES-256-GCM key of the sealed bundle waiting there (:mod:`.bundle`). The kiosk
fetches it (:mod:`.fetch`), opens and checks it (:mod:`.identity`), and installs the files
(:mod:`.install`), showing what happens on its screen (:mod:`.screen`, :mod:`.web`);
:mod:`.session` is the scanning loop and :mod:`.command` the ``kiosk enrol`` command.

Why a token and not the identity itself: see bench section ``enrol`` (a QR carrying the ~1 kB
identity is version 22-26 and does not read reliably at 640x480; the ~80-character token is
version 5 and does).
"""
