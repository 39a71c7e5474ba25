"""Enrolment codes at 640x480: does a QR carrying a whole identity read, or only a short token?

Two candidates for what the kiosk scans to enrol itself:

* ``full``: everything a kiosk needs but its database, in the QR itself: kiosk.toml (deflated),
  the kiosk key (PKCS#8 DER), its certificate and the CA certificate (DER), the venue key (32 B),
  length-prefixed and compressed, in a binary (byte-mode) QR at ECC L and at ECC M;
* ``token``: the ``CKE1`` code of ``kiosk-provision enrol-qr`` (laptop address, port and a
  32-byte key), alphanumeric mode, at ECC M, Q and H.

Each is shown as a phone or laptop screen would show it to the kiosk camera, spanning 40 %, 60 %
and 85 % of the 640x480 frame's height, under every distortion of the decode corpus
(tests/corpus.py: rotation, perspective, blur, noise, low light, glare, JPEG, and both
"realistic" mixes), and decoded by the kiosk's own decoders (zxing-cpp, zbar) through
:mod:`hardware.decoders`. A read counts only when the bytes are exactly the payload.
"""

from __future__ import annotations

import struct
import tempfile
import zlib
from pathlib import Path

import numpy as np
import segno
from cryptography.hazmat.primitives import serialization

from hardware.decoders import open_decoder
from kiosk.enrolment.payload import EnrolCode
from mqtt.wire.slip_codes import VenueKey

from .harness import load_corpus as corpus

BACKENDS = ("zxing", "zbar")
SCALES = (0.40, 0.60, 0.85)
FRAME_H = 480
#: The corpus's distortions but "small_modules" (a fixed 2 px/module, i.e. no scale at all).
SKIP = ("small_modules",)
#: An example laptop address: the longest IPv4 form and a 4-digit port, so no real code is longer.
EXAMPLE_HOST, EXAMPLE_PORT = "192.168.100.200", 8470
#: The candidate the others' read rates are divided by (the design's choice).
TOKEN_REFERENCE = "token ECC Q"


# -- the candidates -----------------------------------------------------------------------------

def provisioned_kiosk(root: Path) -> dict[str, bytes]:
    """A real fleet, venue and kiosk (the fleet API), for real file sizes: the kiosk's files by name."""
    from provisioning.fleet import Fleet

    fleet = Fleet.init(root / "fleet", broker_host="broker.checkin.example")
    fleet.add_venue("cho-mau", "Chợ Mẫu Thử Nghiệm")
    fleet.new_kiosk("tinh-mau-cho-mau-01", "cho-mau")
    return fleet.kiosk_files("tinh-mau-cho-mau-01")


def full_payload(files: dict[str, bytes]) -> bytes:
    """Everything but kiosk.db, as small as it gets: DER, not PEM; the venue key as 32 bytes."""
    key = serialization.load_pem_private_key(files["kiosk.key"], None)
    key_der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())

    def cert_der(name: str) -> bytes:
        from cryptography import x509
        return x509.load_pem_x509_certificate(files[name]).public_bytes(serialization.Encoding.DER)

    parts = [zlib.compress(files["kiosk.toml"], 9), key_der, cert_der("kiosk.pem"),
             cert_der("ca.pem"), VenueKey.parse(files["venue-token.key"].decode("ascii")).secret]
    body = b"".join(struct.pack(">H", len(p)) + p for p in parts)
    packed = zlib.compress(body, 9)
    return b"CKF1" + (b"Z" + packed if len(packed) < len(body) else b"R" + body)


def token_payload() -> bytes:
    return EnrolCode(EXAMPLE_HOST, EXAMPLE_PORT, bytes(range(32))).text().encode("ascii")


def qr_modules(payload: bytes, error: str, mode: str) -> tuple[np.ndarray, int]:
    """The module matrix (quiet zone included) and the QR version."""
    qr = segno.make_qr(payload if mode == "byte" else payload.decode("ascii"), error=error, mode=mode,
                       boost_error=False)
    return np.pad(np.array(qr.matrix, dtype=bool), 4), qr.version


def candidates(workdir: Path) -> list[dict]:
    full = full_payload(provisioned_kiosk(workdir))
    token = token_payload()
    out = []
    for name, payload, error, mode in (("full", full, "l", "byte"), ("full", full, "m", "byte"),
                                       ("token", token, "m", "alphanumeric"),
                                       ("token", token, "q", "alphanumeric"),
                                       ("token", token, "h", "alphanumeric")):
        modules, version = qr_modules(payload, error, mode)
        out.append({"name": f"{name} ECC {error.upper()}", "payload": payload, "bytes": len(payload),
                    "version": version, "modules": modules.shape[0] - 8, "matrix": modules})
    return out


# -- the measurement ----------------------------------------------------------------------------

def frame_for(matrix: np.ndarray, distortion: str, scale: float, seed: int) -> np.ndarray:
    c = corpus()
    rng = np.random.default_rng(c.seed_for("enrol", distortion, scale, seed, matrix.shape[0]))
    return c.render_frame(matrix, c.DISTORTIONS[distortion], rng, width_px=scale * FRAME_H)


def distortions() -> list[str]:
    return [d for d in corpus().DISTORTIONS if d not in SKIP]


def read_rates(cands: list[dict], seeds: int, scales=SCALES, log=lambda m: None) -> dict:
    """For each candidate, scale, backend and distortion: exact reads out of ``seeds`` frames."""
    decoders = {b: open_decoder(b, symbologies=("qr_code",)) for b in BACKENDS}
    names = distortions()
    result = {}
    try:
        for cand in cands:
            log(f"  {cand['name']} ({cand['bytes']} B, version {cand['version']}) …")
            per_scale = {}
            for scale in scales:
                reads = {b: dict.fromkeys(names, 0) for b in BACKENDS}
                for d in names:
                    for seed in range(seeds):
                        frame = frame_for(cand["matrix"], d, scale, seed)
                        for b, decoder in decoders.items():
                            reads[b][d] += any(s.data == cand["payload"] for s in decoder.decode(frame))
                per_scale[scale] = reads
            result[cand["name"]] = per_scale
    finally:
        for decoder in decoders.values():
            decoder.close()
    return result


def summarise(cands: list[dict], rates: dict, seeds: int) -> list[dict]:
    """One row per candidate, scale and backend: overall rate, worst distortion, ratio to the token."""
    rows = []
    token = TOKEN_REFERENCE if TOKEN_REFERENCE in rates else next(c["name"] for c in cands
                                                                  if c["name"].startswith("token"))
    for cand in cands:
        for scale, by_backend in rates[cand["name"]].items():
            for backend, reads in by_backend.items():
                total = len(reads) * seeds
                rate = sum(reads.values()) / total
                worst = min(reads, key=lambda d: reads[d])
                token_reads = rates[token][scale][backend]
                token_rate = sum(token_reads.values()) / (len(token_reads) * seeds)
                rows.append({"candidate": cand["name"], "bytes": cand["bytes"], "version": cand["version"],
                             "scale": scale, "px_per_module": scale * FRAME_H / (cand["modules"] + 8),
                             "backend": backend, "reads": sum(reads.values()), "frames": total, "rate": rate,
                             "worst": worst, "worst_rate": reads[worst] / seeds,
                             "ratio_to_token": rate / token_rate if token_rate else float("nan"),
                             "by_distortion": {d: n / seeds for d, n in reads.items()}})
    return rows


def run(seeds: int, log=lambda m: None) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-enrol-") as tmp:
        cands = candidates(Path(tmp))
    rates = read_rates(cands, seeds, log=log)
    return {"seeds": seeds, "distortions": distortions(), "scales": list(SCALES),
            "candidates": [{k: c[k] for k in ("name", "bytes", "version", "modules")} for c in cands],
            "rows": summarise(cands, rates, seeds)}


# -- the bench section ------------------------------------------------------------------------

QUICK_SEEDS, FULL_SEEDS = 2, 10
#: The design needs the token to read in this share of frames from 60 % of the frame height up (zxing).
TARGET_TOKEN_RATE = 0.95


def section(out: dict, *, quick: bool, log=lambda m: None) -> None:
    from .report import table

    seeds = QUICK_SEEDS if quick else FULL_SEEDS
    log(f"enrolment codes at 640x480 ({seeds} frame(s) per distortion, scale and candidate) …")
    res = run(seeds, log=log)
    out["enrol"] = res
    rows = [[r["candidate"], r["bytes"], r["version"], f"{r['scale']:.0%}", r["px_per_module"], r["backend"],
             f"{r['reads']}/{r['frames']}", r["rate"], f"{r['worst']} {r['worst_rate']:.2f}", r["ratio_to_token"]]
            for r in res["rows"]]
    token = {(r["scale"], r["backend"]): r["rate"] for r in res["rows"] if r["candidate"] == TOKEN_REFERENCE}
    full = [r for r in res["rows"] if r["candidate"].startswith("full")]
    verdict = "ok" if all(token[(s, "zxing")] >= TARGET_TOKEN_RATE for s in SCALES if s >= 0.6) else "BELOW"
    print(table(
        f"8. Enrolment codes seen by a 640x480 camera — exact reads out of {len(res['distortions'])} distortions × "
        f"{seeds} frame(s), code shown on a screen spanning 40/60/85 % of the frame height",
        ["candidate", "bytes", "QR ver", "height", "px/module", "backend", "reads", "rate", "worst distortion",
         f"÷ {TOKEN_REFERENCE}"], rows,
        note=f"   full = kiosk.toml (deflated) + kiosk key (PKCS#8 DER) + kiosk and CA certificates (DER) + venue "
             f"key (32 B), compressed, byte mode; token = the CKE1 code of `kiosk-provision enrol-qr` "
             f"(alphanumeric mode)"
             f"\n   distortions (tests/corpus.py): {', '.join(res['distortions'])}"
             f"\n   target: {TOKEN_REFERENCE} read in ≥{TARGET_TOKEN_RATE:.0%} of frames by zxing from 60 % up — "
             f"{verdict}; best full-identity rate {max(r['rate'] for r in full):.2f} "
             f"(so the kiosk scans a token and fetches the sealed identity)"
             f"\n   ratio = the candidate's read rate / {TOKEN_REFERENCE}'s at the same height and backend"))
