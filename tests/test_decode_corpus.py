"""Read rates of both decoder backends on a synthetic, distorted corpus of credential codes.

Each (backend, kind, distortion) cell decodes N seeded 640x480 frames (see corpus.py) and counts a
read only when recognise() returns exactly the expected fields, diacritics included. The table is
printed (pytest -s) and written to test-artifacts/decode_rates.json.
"""

from __future__ import annotations

import collections
import json
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pyzbar import pyzbar

import corpus
from hardware.camera_folder import load_frames
from hardware.decode_zbar import ZbarDecoder
from hardware.decoders import open_decoder
from kiosk.credentials import Refused, recognise

N = 6
BACKENDS = ("zxing", "zbar")
KINDS = tuple(corpus.BUILDERS)
DISTORTIONS = tuple(corpus.DISTORTIONS)
FIELDS = ("kind", "id", "name", "birth_date", "sex", "phone")
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"

# Reads out of N, measured on this corpus (zxing-cpp 3.1.1, libzbar 0.23.92, OpenCV 5.0, x86-64);
# after changing the corpus, re-measure (test-artifacts/decode_rates.json) and update this table.
# Floors: N/N -> 0.95 (every sample must read); 2..N-1 -> one sample fewer (these codes sit at
# the decoder's limit, where platform differences in OpenCV's resampling can flip one); 0 or 1 ->
# no floor, reported only.
MEASURED = """
                      clean rot10 rot30 keystone15 blur1.0 blur1.5 noise10 noise20 low_contrast small_modules glare jpeg30 realistic realistic_mild
zxing cccd                6     6     6          6       6       6       6       6            6             6     1      6         0              4
zxing bhyt_old            6     6     6          6       6       5       6       6            5             6     6      6         0              5
zxing bhyt_new            6     6     6          6       6       5       6       6            6             6     4      6         0              5
zxing national_masked     6     6     6          6       6       5       6       6            6             6     0      6         0              5
zxing national_full       6     6     6          6       6       6       6       6            6             6     1      6         0              6
zxing can_cuoc            6     6     6          6       6       6       6       6            6             6     1      6         0              2
zxing national_pccovid    6     6     6          6       6       6       6       6            6             6     0      6         0              4
zbar  cccd                6     6     6          6       6       5       6       5            6             6     0      6         0              0
zbar  bhyt_old            6     6     6          2       6       2       6       4            6             6     2      6         0              2
zbar  bhyt_new            6     6     6          5       6       3       6       6            6             6     2      6         0              1
zbar  national_masked     6     6     6          6       6       0       6       6            6             6     0      6         0              0
zbar  national_full       6     6     6          6       6       4       6       6            6             6     0      6         0              1
zbar  can_cuoc            6     6     6          6       6       4       6       6            6             6     0      6         0              0
zbar  national_pccovid    6     6     6          6       6       2       6       6            6             6     0      6         0              3
"""  # noqa: E501 - the measured table, one row a line


def parse_measured(table: str) -> dict[tuple[str, str, str], int]:
    lines = table.strip().splitlines()
    columns = lines[0].split()
    assert tuple(columns) == DISTORTIONS, "MEASURED columns must match corpus.DISTORTIONS"
    cells = {}
    for line in lines[1:]:
        backend, kind, *counts = line.split()
        cells.update({(backend, kind, d): int(c) for d, c in zip(columns, counts, strict=True)})
    return cells


def floor_for(reads: int) -> float | None:
    if reads == N:
        return 0.95
    return (reads - 1) / N if reads >= 2 else None


def fields(credential) -> dict:
    return {f: getattr(credential, f) for f in FIELDS}


# -- the corpus run ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def decoders():
    opened = {b: open_decoder(b, symbologies=("qr_code", "code_128")) for b in BACKENDS}
    yield opened
    for d in opened.values():
        d.close()


def outcome(decoder, sample: corpus.Sample) -> tuple[str, list]:
    """("read" | "wrong" | "refused" | "none", misreads): a wrong read is an accepted credential
    whose fields differ from the expected ones, or whose payload differs from the encoded one."""
    encoded = sample.payload.encode("utf-8")
    symbols = decoder.decode(sample.frame)
    accepted = []
    for s in symbols:
        try:
            accepted.append((s.data, fields(recognise(s.data, today=corpus.TODAY))))
        except Refused:
            pass
    misreads = [{"got": got, "expected": sample.expected, "payload_equal": data == encoded}
                for data, got in accepted if (data, got) != (encoded, sample.expected)]
    if misreads:
        return "wrong", misreads
    if accepted:
        return "read", []
    return ("refused" if symbols else "none"), []


@pytest.fixture(scope="module")
def corpus_run(decoders):
    """Outcome counts per (backend, kind, distortion), and every wrong read."""
    counts = collections.defaultdict(collections.Counter)
    wrong = []
    for kind in KINDS:
        for distortion in DISTORTIONS:
            for i in range(N):
                sample = corpus.make_sample(kind, distortion, i)
                for backend, decoder in decoders.items():
                    result, misreads = outcome(decoder, sample)
                    counts[backend, kind, distortion][result] += 1
                    wrong += [dict(m, backend=backend, kind=kind, distortion=distortion, index=i)
                              for m in misreads]
    write_report(counts, wrong)
    return counts, wrong


def write_report(counts, wrong) -> None:
    rates = {b: {k: {d: round(counts[b, k, d]["read"] / N, 3) for d in DISTORTIONS} for k in KINDS}
             for b in BACKENDS}
    outcomes = {f"{b}/{k}/{d}": dict(counts[b, k, d]) for b in BACKENDS for k in KINDS for d in DISTORTIONS}
    ARTIFACTS.mkdir(exist_ok=True)
    report = {"samples_per_cell": N, "rates": rates, "outcomes": outcomes, "wrong_reads": wrong}
    (ARTIFACTS / "decode_rates.json").write_text(json.dumps(report, ensure_ascii=False, indent=1))
    print("\n" + rate_table(rates))


SHORT_NAMES = {"keystone15": "keyst15", "low_contrast": "lowcontr", "small_modules": "module2px",
               "realistic": "realist", "realistic_mild": "real_mild"}


def rate_table(rates) -> str:
    short = [SHORT_NAMES.get(d, d) for d in DISTORTIONS]
    lines = [f"{f'read rate (N={N})':<23}" + " ".join(f"{s:>9}" for s in short)]
    for b in BACKENDS:
        for k in KINDS:
            lines.append(f"{b:<6}{k:<17}" + " ".join(f"{rates[b][k][d]:>9.2f}" for d in DISTORTIONS))
    return "\n".join(lines)


CELLS = [(b, k, d) for b in BACKENDS for k in KINDS for d in DISTORTIONS]


@pytest.mark.slow
@pytest.mark.parametrize("backend,kind,distortion", CELLS, ids=["/".join(c) for c in CELLS])
def test_read_rate_floor(corpus_run, backend, kind, distortion):
    cell = corpus_run[0][backend, kind, distortion]
    floor = floor_for(parse_measured(MEASURED)[backend, kind, distortion])
    rate = cell["read"] / N
    # Past the decoder's limit (no floor) a code may go unread, but never be misread or refused:
    # the visitor just holds it up again.
    assert cell["wrong"] == 0 and cell["refused"] == 0, dict(cell)
    if floor is not None:
        assert rate >= floor, f"{backend} {kind} {distortion}: read rate {rate:.2f} < floor {floor:.2f}"


@pytest.mark.slow
def test_never_a_wrong_read(corpus_run):
    assert corpus_run[1] == []


def test_measured_table_covers_every_cell():
    assert set(parse_measured(MEASURED)) == set(CELLS)


def test_corpus_payloads_parse_exactly():
    """The corpus itself: every payload gives its expected fields, without warnings."""
    for kind in KINDS:
        for i in range(N):
            payload, want = corpus.make_payload(kind, i)
            credential = recognise(payload.encode("utf-8"), today=corpus.TODAY)
            assert fields(credential) == want, payload
            assert credential.warnings == (), (payload, credential.warnings)


# -- zbar and Vietnamese UTF-8 ----------------------------------------------------------------

def mojibake_prone_payloads() -> list[tuple[str, dict]]:
    """One CCCD payload per synthetic person with a short address: plain zbar garbles such payloads."""
    out = []
    for i, p in enumerate(corpus.PEOPLE):
        number = corpus.cccd_number(random.Random(i), p)
        payload = "|".join([number, "", p.name, corpus.ddmmyyyy(p.birth), "Nam" if p.sex == "male" else "Nữ",
                            "Phường Mẫu", "01012022"])
        out.append((payload, corpus.expected("cccd", number, p.name, p.birth.isoformat(), p.sex)))
    return out


@pytest.mark.parametrize("renderer", sorted(corpus.RENDERERS))
def test_zbar_reads_vietnamese_utf8_exactly(renderer):
    """hardware/decode_zbar.py uses zbar's binary mode: no mojibake, where plain pyzbar garbles."""
    decoder = open_decoder("zbar", symbologies=("qr_code",))
    garbled_by_plain_pyzbar = 0
    for i, (payload, want) in enumerate(mojibake_prone_payloads()):
        frame = corpus.render_frame(corpus.RENDERERS[renderer](payload), corpus.DISTORTIONS["clean"],
                                    np.random.default_rng(i))
        symbols = decoder.decode(frame)
        assert [s.data for s in symbols] == [payload.encode("utf-8")]
        assert fields(recognise(symbols[0].data, today=corpus.TODAY)) == want
        garbled_by_plain_pyzbar += [s.data for s in pyzbar.decode(frame)] != [payload.encode("utf-8")]
    # Otherwise this corpus would not show the bug the binary mode fixes.
    assert garbled_by_plain_pyzbar >= 2


def test_zbar_fallback_repairs_mojibake():
    """Without binary mode (zbar < 0.23.1) the SJIS round trip must still give exact UTF-8."""
    decoder = ZbarDecoder(("qr_code",), binary=False)
    for i, (payload, _want) in enumerate(mojibake_prone_payloads()):
        frame = corpus.render_frame(corpus.qr_segno(payload), corpus.DISTORTIONS["clean"],
                                    np.random.default_rng(i))
        assert [s.data for s in decoder.decode(frame)] == [payload.encode("utf-8")]


# -- layouts seen in the field (formats.md §1.3, §2.2, §3.1), rendered and decoded for real -----

_MAU = corpus.PEOPLE[0]  # Nguyễn Thị Mẫu, 01/01/1990, female
_THU = corpus.PEOPLE[1]  # Trần Văn Thử, 02/02/1995, male
_NQR = "******000001|NGUYEN THI MAU|1990-**-**|0|100000000000000001|"
_BHYT_TE = ("TE1799999999901|" + corpus.hexutf8(_MAU.name) + "|01/01/1990|2|" + corpus.hexutf8(_MAU.address)
            + "|79 - 999|01/01/2025|31/12/2035|15/12/2024|79999999999901|{guardian}|4|01/01/2029|{check}|$")
FIELD_LAYOUTS = {
    # Căn cước 2024: the chip card's 7 fields and 4 empty ones.
    "can_cuoc_11_fields": (
        f"001095000002||{_THU.name}|02021995|Nam|{_THU.address}|10102024||||",
        corpus.expected("cccd", "001095000002", _THU.name, "1995-02-02", "male"),
        {"layout": "can_cuoc_2024", "extras": []}),
    # PC-Covid's EXT: "00" for no BHYT number, an empty part, then the phone.
    "pccovid_ext": (_NQR + "<2<00<<0912345678",
                    corpus.expected("national_qr", "100000000000000001", "NGUYEN THI MAU", "1990", "female",
                                    "0912345678"),
                    {"bhyt_number": None, "signature": None}),
    "pccovid_ext_short": (_NQR + "<1<00<0912345678",
                          corpus.expected("national_qr", "100000000000000001", "NGUYEN THI MAU", "1990", "male",
                                          "0912345678"),
                          {"bhyt_number": None, "signature": None}),
    "pccovid_phone_masked_at_end": (_NQR + "<2<00<<0912345***",
                                    corpus.expected("national_qr", "100000000000000001", "NGUYEN THI MAU", "1990",
                                                    "female"),
                                    {"phone_masked": "0912345***", "signature": None}),
    # BHYT: a guardian written plain (a phone number), a check value with 15 hex digits.
    "bhyt_plain_guardian": (_BHYT_TE.format(guardian="0912345678", check="0123456789abcdef-0000"),
                            corpus.expected("bhyt", "TE1799999999901", _MAU.name, "1990-01-01", "female"),
                            {"guardian": "0912345678"}),
    "bhyt_check_15_hex": (_BHYT_TE.format(guardian=_THU.name, check="123456789abcdef-7102"),
                          corpus.expected("bhyt", "TE1799999999901", _MAU.name, "1990-01-01", "female"),
                          {"guardian": _THU.name, "check": "123456789abcdef-7102"}),
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("renderer", sorted(corpus.RENDERERS))
@pytest.mark.parametrize("name", FIELD_LAYOUTS)
def test_field_layouts_decode_from_rendered_images(decoders, backend, renderer, name):
    payload, want, details = FIELD_LAYOUTS[name]
    modules = corpus.RENDERERS[renderer](payload)
    for distortion in ("clean", "rot10", "blur1.0"):
        frame = corpus.render_frame(modules, corpus.DISTORTIONS[distortion],
                                    np.random.default_rng(corpus.seed_for("field", name, renderer, distortion)))
        symbols = decoders[backend].decode(frame)
        assert [s.data for s in symbols] == [payload.encode("utf-8")], distortion
        credential = recognise(symbols[0].data, today=corpus.TODAY)
        assert fields(credential) == want and credential.warnings == ()
        assert {k: credential.details[k] for k in details} == details


# -- look-alikes and garbage ------------------------------------------------------------------

LOOKALIKES = corpus.lookalikes()


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name,payload,symbology,code", LOOKALIKES, ids=[x[0] for x in LOOKALIKES])
def test_lookalike_is_decoded_and_refused(decoders, backend, name, payload, symbology, code):
    frame = corpus.lookalike_frame(payload, symbology, corpus.seed_for("lookalike", name))
    symbols = decoders[backend].decode(frame)
    assert [(s.format, s.data) for s in symbols] == [(symbology, payload.encode("utf-8"))]
    with pytest.raises(Refused) as refused:
        recognise(symbols[0].data, today=corpus.TODAY)
    assert refused.value.code == code


@pytest.mark.parametrize("backend", BACKENDS)
def test_code128_encoder_round_trips_every_printable_character(decoders, backend):
    printable = "".join(chr(c) for c in range(32, 127))
    for start in range(0, len(printable), 12):
        text = printable[start:start + 12]
        frame = corpus.lookalike_frame(text, "code_128", start)
        assert [(s.format, s.text) for s in decoders[backend].decode(frame)] == [("code_128", text)]


# -- kiosk decode --json, end to end ----------------------------------------------------------

def save_sample(path: Path, kind: str, index: int, **save_options) -> dict:
    sample = corpus.make_sample(kind, "clean", index)
    Image.fromarray(sample.frame).save(path, **save_options)
    return sample.expected


@pytest.fixture(scope="module")
def cli_files(tmp_path_factory):
    """Five good images (PNGs and a JPEG; the field layouts of Căn cước and PC-Covid among them), a
    payment QR, a non-image and a missing path."""
    d = tmp_path_factory.mktemp("decode")
    good = {
        d / "cccd.png": save_sample(d / "cccd.png", "cccd", 0),
        d / "bhyt.png": save_sample(d / "bhyt.png", "bhyt_old", 1),
        d / "national.jpg": save_sample(d / "national.jpg", "national_full", 2, quality=90),
        d / "can_cuoc.png": save_sample(d / "can_cuoc.png", "can_cuoc", 3),
        d / "pccovid.png": save_sample(d / "pccovid.png", "national_pccovid", 4),
    }
    payment = d / "payment.png"
    name, payload, symbology, _ = LOOKALIKES[0]
    Image.fromarray(corpus.lookalike_frame(payload, symbology, 7)).save(payment)
    notes = d / "notes.png"
    notes.write_text("Danh sách khách: đây không phải là ảnh.\n", encoding="utf-8")
    (d / "kiosk.toml").write_text("", encoding="utf-8")  # defaults, whatever /etc holds
    return d, good, [payment, notes, d / "missing.png"]


def run_decode(directory: Path, paths, *options) -> tuple[int, list[dict]]:
    cmd = [sys.executable, "-m", "kiosk", "decode", "--config", str(directory / "kiosk.toml"), "--json",
           *options, *map(str, paths)]
    proc = subprocess.run(cmd, capture_output=True, timeout=120, cwd=directory)
    lines = proc.stdout.decode("utf-8").splitlines()
    return proc.returncode, [json.loads(line) for line in lines]


def check_credential_line(line: dict, path: Path, want: dict) -> None:
    assert set(line) == {"file", "format", "credential"}
    assert line["file"] == str(path) and line["format"] == "qr_code"
    credential = line["credential"]
    assert {"kind", "id", "name", "birth_date", "sex", "phone", "details"} <= set(credential)
    assert {f: credential[f] for f in FIELDS} == want
    assert isinstance(credential["details"], dict)


@pytest.mark.slow
@pytest.mark.parametrize("backend", [None, "zbar"])
def test_kiosk_decode_json_all_good_exits_0(cli_files, backend):
    directory, good, _ = cli_files
    code, lines = run_decode(directory, good, *(["--decoder", backend] if backend else []))
    assert code == 0
    assert len(lines) == len(good)
    for line, (path, want) in zip(lines, good.items(), strict=True):
        check_credential_line(line, path, want)


@pytest.mark.slow
@pytest.mark.parametrize("backend", [None, "zbar"])
def test_kiosk_decode_json_bad_files_exit_1(cli_files, backend):
    directory, good, (payment, notes, missing) = cli_files
    code, lines = run_decode(directory, [*good, payment, notes, missing],
                             *(["--decoder", backend] if backend else []))
    assert code == 1
    assert [line["file"] for line in lines] == list(map(str, [*good, payment, notes, missing]))
    for line, (path, want) in zip(lines, good.items(), strict=False):
        check_credential_line(line, path, want)
    refused, not_image, absent = lines[len(good):]
    for line in (refused, not_image, absent):
        assert "credential" not in line and line["error"]
    assert refused["reason"] == "payment_qr" and refused["format"] == "qr_code"
    assert not_image["error"].startswith("not a readable image")
    assert absent["error"] == "file not found"


# -- the image-folder camera ------------------------------------------------------------------

@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("kind", ["cccd", "bhyt_old"])
def test_large_photo_through_camera_folder_decodes(tmp_path, decoders, backend, kind):
    """A 2000x1500 photo is scaled into the 640x480 frame and still reads exactly."""
    payload, want = corpus.make_payload(kind, 3)
    photo = corpus.Distortion("photo", on_scene=lambda img, rng: corpus.gaussian_noise(
        corpus.gaussian_blur(img, 2.0), 6, rng))
    big = corpus.render_frame(corpus.qr_qrcode(payload), photo, np.random.default_rng(2000),
                              size=(2000, 1500), width_px=950)
    path = tmp_path / "photo.jpg"
    Image.fromarray(big).save(path, quality=85)

    frames = load_frames(path, 640, 480)
    assert len(frames) == 1 and frames[0].shape == (480, 640) and frames[0].dtype == np.uint8
    symbols = decoders[backend].decode(frames[0])
    assert [s.data for s in symbols] == [payload.encode("utf-8")]
    assert fields(recognise(symbols[0].data, today=corpus.TODAY)) == want
