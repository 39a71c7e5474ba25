"""Recognising codes: the synthetic examples of formats.md, each refusal, each warning.

All personal data here is synthetic ("Mẫu" = sample, "Thử" = test), as in formats.md.
"""

import datetime
import json
import unicodedata

import pytest

from codes import BHYT_NEW, BHYT_OLD, bhyt_payload
from kiosk.credentials import (
    KINDS,
    MAX_PAYLOAD_BYTES,
    Credential,
    Refused,
    bhyt,
    cccd,
    kiosk_code,
    national_qr,
    recognise,
)
from kiosk.door.checkin import CheckinDesk
from kiosk.printing.codes import KioskTokens
from kiosk.staff.people import People, parse_declaration
from mqtt.wire.slip_codes import VenueKey

TODAY = datetime.date(2025, 6, 1)

CCCD_1 = "079190000001|000000001|Nguyễn Thị Mẫu|01011990|Nữ|Số 1 Đường Thử Nghiệm, Phường Mẫu, Tỉnh Giả Định|15072021"
CCCD_2 = "001095000002||Trần Văn Thử|02021995|Nam|Phường Mẫu, Thành phố Hà Nội|10102024"
NQR_MASKED = "******000001|NGUYEN THI MAU|1990-**-**|0|100000000000000001|<2<GD4799999999901<0912345678"
NQR_FULL = "079190000001|NGUYEN THI MAU|1990-01-01|0|100000000000000001|<2<GD4799999999901<0912345678"


def hexname(text: str) -> str:
    return text.encode("utf-8").hex()


def refusal(payload, **kw) -> Refused:
    with pytest.raises(Refused) as info:
        recognise(payload, today=TODAY, **kw)
    return info.value


# --- CCCD / Căn cước ---------------------------------------------------------------------------


def test_cccd_example_with_old_id():
    c = recognise(CCCD_1, today=TODAY)
    assert c == Credential(
        kind="cccd",
        id="079190000001",
        name="Nguyễn Thị Mẫu",
        birth_date="1990-01-01",
        sex="female",
        phone=None,
        details={
            "old_id": "000000001",
            "address": "Số 1 Đường Thử Nghiệm, Phường Mẫu, Tỉnh Giả Định",
            "issue_date": "2021-07-15",
            "layout": "chip_2021",
            "extras": [],
        },
        warnings=(),
    )
    assert c.key == "cccd:079190000001"


def test_cccd_with_empty_old_id():
    c = recognise(CCCD_2, today=TODAY)
    assert (c.id, c.name, c.birth_date, c.sex) == ("001095000002", "Trần Văn Thử", "1995-02-02", "male")
    assert c.details["old_id"] is None
    assert c.details["issue_date"] == "2024-10-10"
    assert c.warnings == ()


def test_can_cuoc_with_extra_fields_keeps_them():
    c = recognise(CCCD_2 + "|001095000009|Trần Văn Mẫu|Nguyễn Thị Thử", today=TODAY)
    assert c.id == "001095000002"
    assert c.details["extras"] == ["001095000009", "Trần Văn Mẫu", "Nguyễn Thị Thử"]
    assert c.details["layout"] == "other"


def test_can_cuoc_2024_standard_layout_has_eleven_fields():
    """The 7 fields of the chip card, then 4 empty ones; the name in title case, as cards carry it."""
    c = recognise(CCCD_2 + "||||", today=TODAY)
    assert (c.id, c.name, c.birth_date, c.sex) == ("001095000002", "Trần Văn Thử", "1995-02-02", "male")
    assert c.details == {"old_id": None, "address": "Phường Mẫu, Thành phố Hà Nội", "issue_date": "2024-10-10",
                         "layout": "can_cuoc_2024", "extras": []}
    assert c.warnings == ()


def test_can_cuoc_2024_with_a_filled_extra_field_keeps_its_place():
    c = recognise(CCCD_2 + "|001095000009|||", today=TODAY)
    assert c.details["layout"] == "can_cuoc_2024"
    assert c.details["extras"] == ["001095000009", "", "", ""]


def test_chip_card_2021_layout_has_seven_fields():
    c = recognise(CCCD_1, today=TODAY)
    assert c.details["layout"] == "chip_2021" and c.details["extras"] == []


@pytest.mark.parametrize("word, sex", [("NAM", "male"), ("nam", "male"), ("NỮ", "female"), ("nu", "female"),
                                       ("Nu", "female")])
def test_cccd_sex_words(word, sex):
    c = recognise(CCCD_2.replace("|Nam|", f"|{word}|"), today=TODAY)
    assert c.sex == sex


def test_cccd_name_whitespace_collapsed_and_apostrophes_allowed():
    c = recognise(CCCD_2.replace("Trần Văn Thử", "  Trần   Văn\u00a0Thử-Mẫu O'Thử Jr. "), today=TODAY)
    assert c.name == "Trần Văn Thử-Mẫu O'Thử Jr."


@pytest.mark.parametrize(
    "number, birth, sex_word, expected",
    [
        ("079090000001", "01011990", "Nữ", ("cccd_century_sex_mismatch",)),  # G=0 is a man
        ("079290000001", "01011990", "Nữ", ("cccd_century_sex_mismatch",)),  # G=2 is the 2000s
        ("079191000001", "01011990", "Nữ", ("cccd_birth_year_mismatch",)),
        ("079305000001", "01012005", "Nữ", ()),
        ("079205000001", "01012005", "Nam", ()),
        ("079391000001", "01011990", "Nam", ("cccd_century_sex_mismatch", "cccd_birth_year_mismatch")),
    ],
)
def test_cccd_number_consistency_warnings(number, birth, sex_word, expected):
    payload = f"{number}|000000001|Nguyễn Thị Mẫu|{birth}|{sex_word}|Phường Mẫu|15072021"
    c = recognise(payload, today=TODAY)
    assert c.id == number
    assert c.warnings == expected


@pytest.mark.parametrize("old_id, warned", [("000000001", False), ("000000000001", False), ("12345", True),
                                            ("A00000001", True)])
def test_cccd_old_id_length_warning(old_id, warned):
    c = recognise(CCCD_1.replace("|000000001|", f"|{old_id}|"), today=TODAY)
    assert c.details["old_id"] == old_id
    assert ("cccd_old_id_length" in c.warnings) is warned


def test_cccd_invalid_issue_date_is_a_warning():
    c = recognise(CCCD_1.replace("15072021", "31022021"), today=TODAY)
    assert c.details["issue_date"] is None
    assert c.warnings == ("cccd_issue_date_invalid",)


def test_cccd_empty_issue_date_and_address():
    c = recognise("079190000001|000000001|Nguyễn Thị Mẫu|01011990|Nữ||", today=TODAY)
    assert c.details["issue_date"] is None and c.details["address"] is None
    assert c.warnings == ()


def test_cccd_birth_in_future_is_a_warning():
    c = recognise(CCCD_1, today=datetime.date(1989, 1, 1))
    assert "birth_date_in_future" in c.warnings


@pytest.mark.parametrize(
    "payload, field",
    [
        (CCCD_1.replace("079190000001", "07919000001"), "field 0"),
        (CCCD_1.replace("079190000001", "07919000000A"), "field 0"),
        (CCCD_1.replace("079190000001", "٠٧٩١٩٠٠٠٠٠٠١"), "field 0"),  # Arabic-Indic digits
        (CCCD_1.replace("Nguyễn Thị Mẫu", ""), "field 2"),
        (CCCD_1.replace("Nguyễn Thị Mẫu", "Nguyễn Thị M4u"), "field 2"),
        (CCCD_1.replace("Nguyễn Thị Mẫu", "Mẫu " * 30), "field 2"),
        (CCCD_1.replace("Nguyễn Thị Mẫu", "- . '"), "field 2"),
        (CCCD_1.replace("01011990", "31021990"), "field 3"),
        (CCCD_1.replace("01011990", "1990-01-01"), "field 3"),
        (CCCD_1.replace("|Nữ|", "|F|"), "field 4"),
        (CCCD_1.replace("Số 1 Đường", "Số 1 " + "Đường " * 60), "field 5"),
    ],
)
def test_malformed_cccd_names_the_field_without_personal_data(payload, field):
    r = refusal(payload)
    assert r.code == "malformed_cccd"
    assert field in r.detail
    for secret in ("079190000001", "Nguyễn", "Mẫu", "1990", "000000001"):
        assert secret not in r.detail


def test_cccd_parser_refuses_too_few_fields():
    with pytest.raises(Refused) as info:
        cccd.parse("079190000001|000000001|Nguyễn Thị Mẫu|01011990|Nữ|Số 1")
    assert info.value.code == "malformed_cccd"


# --- BHYT --------------------------------------------------------------------------------------


def test_bhyt_old_layout_example():
    c = recognise(BHYT_OLD, today=TODAY)
    assert (c.kind, c.id, c.name, c.birth_date, c.sex, c.phone) == (
        "bhyt", "GD4799999999901", "Nguyễn Thị Mẫu", "1990-01-01", "female", None,
    )
    assert c.details == {
        "layout": "old",
        "address": "Số 1 Đường Thử Nghiệm, Phường Mẫu, Tỉnh Giả Định",
        "facility": "79999",
        "valid_from": "2020-01-01",
        "valid_to": "2020-12-31",
        "issue_date": "2019-12-15",
        "reference": "79999999999901",
        "guardian": None,
        "area": None,
        "five_year_date": "2025-01-01",
        "check": "0123456789abcdef-0000",
    }
    assert c.warnings == ("bhyt_expired",)


def test_bhyt_new_layout_example():
    c = recognise(BHYT_NEW, today=TODAY)
    assert (c.id, c.name, c.birth_date, c.sex) == ("7999999901", "Trần Văn Thử", "1995-02-02", "male")
    assert c.details["layout"] == "new"
    assert c.details["address"] is None
    assert c.details["facility"] == "01999"
    assert c.details["valid_to"] is None
    assert c.details["five_year_date"] == "2029-01-01"  # had a leading space
    assert c.details["check"] == "fedcba9876543210-0000"
    assert c.details["benefit_level_hint"] == "4"
    assert c.details["issue_place"] == "Bảo hiểm xã hội Mẫu"
    assert c.warnings == ()  # no end date: never expired


def test_bhyt_short_variant_with_ten_tokens():
    c = recognise("|".join(BHYT_OLD.split("|")[:9]) + "|$", today=TODAY)
    assert c.details["layout"] == "other"
    assert c.details["check"] is None and c.details["five_year_date"] is None
    assert c.name == "Nguyễn Thị Mẫu"


def test_bhyt_twelve_digit_number_year_only_birth_guardian_and_area():
    c = recognise(
        bhyt_payload(BHYT_OLD, f0="079190000001", f2="1990", f10=hexname("Nguyễn Văn Mẫu"), f11="6", f5="01 – 04A"),
        today=TODAY,
    )
    assert c.id == "079190000001" and c.birth_date == "1990"
    assert c.details["guardian"] == "Nguyễn Văn Mẫu"
    assert c.details["area"] == "K2"
    assert c.details["facility"] == "0104A"


def test_bhyt_lenient_letters_after_the_level_digit():
    assert recognise(bhyt_payload(BHYT_OLD, f0="GD479999999990A"), today=TODAY).id == "GD479999999990A"


def test_bhyt_plain_text_name_and_uppercase_hex():
    assert recognise(bhyt_payload(BHYT_OLD, f1="Nguyen Thi Mau"), today=TODAY).name == "Nguyen Thi Mau"
    assert recognise(bhyt_payload(BHYT_OLD, f1="CAFE"), today=TODAY).name == "CAFE"  # hex-looking, not UTF-8
    assert recognise(bhyt_payload(BHYT_OLD, f1=hexname("Thử").upper()), today=TODAY).name == "Thử"


def test_bhyt_unreadable_dates_are_warnings():
    c = recognise(bhyt_payload(BHYT_OLD, f6="32/01/2020", f8="2019"), today=TODAY)
    assert c.details["valid_from"] is None and c.details["issue_date"] is None
    assert "bhyt_date_unreadable" in c.warnings


def test_bhyt_not_expired_and_future_birth():
    c = recognise(bhyt_payload(BHYT_OLD, f7="31/12/2030", f2="01/01/2030"), today=TODAY)
    assert "bhyt_expired" not in c.warnings
    assert "birth_date_in_future" in c.warnings


@pytest.mark.parametrize("guardian, expected", [
    ("Nguyễn Văn Mẫu", "Nguyễn Văn Mẫu"),  # plain text, as some cards carry it
    ("NGUYEN VAN MAU 0912345678", "NGUYEN VAN MAU 0912345678"),
    ("0912345678", "0912345678"),  # plain digits that are also hex (09 = TAB): not hex
    ("Mẹ: Đỗ Thị Thử", "Mẹ: Đỗ Thị Thử"),
    (hexname("Đỗ Thị Thử"), "Đỗ Thị Thử"),
])
def test_bhyt_guardian_may_be_plain_text(guardian, expected):
    c = recognise(bhyt_payload(BHYT_OLD, f10=guardian, f7="31/12/2030"), today=TODAY)
    assert c.details["guardian"] == expected
    assert c.warnings == ()


@pytest.mark.parametrize("check, warned", [
    ("0123456789abcdef-0000", False),
    ("123456789abcdef-7102", False),  # 15 hex digits before "-", as on some cards
    ("0123456789ABCDEF-1202", False),
    ("0123456789abcd-0000", True),
    ("0123456789abcdef0-0000", True),
    ("0123456789abcdefg-0000", True),
    ("0123456789abcdef", True),
])
def test_bhyt_check_value_shape(check, warned):
    c = recognise(bhyt_payload(BHYT_OLD, f13=check, f7="31/12/2030"), today=TODAY)
    assert c.details["check"] == check
    assert c.warnings == (("bhyt_check_unreadable",) if warned else ())


@pytest.mark.parametrize("card, reference, warned", [
    ("GD4799999999901", "79999999999901", False),
    ("GD4799999999901", "79019999999901", False),  # another office of the same province
    ("GD4799999999901", "01999999999901", True),  # another province
    ("GD4799999999901", "79999999999902", True),  # another social-insurance number
    ("7999999901", "01997999999901", False),
    ("7999999901", "01997999999902", True),
    ("079190000001", "01997999999901", False),  # 12-digit number: nothing to compare
    ("GD4799999999901", "-", False),
    ("GD4799999999901", "7999999999990", False),  # not 14 digits: not compared
])
def test_bhyt_field_9_repeats_the_province_and_the_social_insurance_number(card, reference, warned):
    c = recognise(bhyt_payload(BHYT_OLD, f0=card, f9=reference, f7="31/12/2030"), today=TODAY)
    assert c.id == card
    assert c.warnings == (("bhyt_reference_mismatch",) if warned else ())


def test_bhyt_parser_cuts_at_first_nul():
    c = bhyt.parse(BHYT_NEW + "\x00\x00garbage|more", today=TODAY)
    assert c.id == "7999999901"


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"f0": "GD47999999999"}, "field 0"),
        ({"f0": "gd4799999999901"}, "field 0"),
        ({"f0": "GD6799999999901"}, "field 0"),  # level 6 does not exist
        ({"f0": "79999999011"}, "field 0"),
        ({"f1": "-"}, "field 1"),
        ({"f1": hexname("   ")}, "field 1"),
        ({"f2": "31/02/1990"}, "field 2"),
        ({"f2": "1990-01-01"}, "field 2"),
        ({"f3": "0"}, "field 3"),
        ({"f3": "F"}, "field 3"),
    ],
)
def test_malformed_bhyt_names_the_field(changes, field):
    r = refusal(bhyt_payload(BHYT_OLD, **changes))
    assert r.code == "malformed_bhyt"
    assert field in r.detail
    assert "Mẫu" not in r.detail and "799999" not in r.detail


@pytest.mark.parametrize("hidden", ["\x1b", "\t", "\u202e", "\x00", "\u200b"])
@pytest.mark.parametrize("index", ["f1", "f4", "f10"])
def test_bhyt_hex_field_hiding_control_characters_is_refused(hidden, index):
    r = refusal(bhyt_payload(BHYT_OLD, **{index: hexname("Nguyễn" + hidden + "Mẫu")}))
    assert r.code == "control_chars"
    assert f"field {index[1:]}" in r.detail


def test_bhyt_new_layout_issue_place_hiding_control_characters_is_refused():
    payload = BHYT_NEW.replace("42e1baa36f", hexname("\u202e") + "42e1baa36f")
    assert refusal(payload).code == "control_chars"


# --- National QR (QĐ 1405) ---------------------------------------------------------------------


def test_national_qr_masked_example():
    c = recognise(NQR_MASKED, today=TODAY)
    assert c == Credential(
        kind="national_qr",
        id="100000000000000001",
        name="NGUYEN THI MAU",
        birth_date="1990",
        sex="female",
        phone="0912345678",
        details={
            "document_number": "******000001",
            "proxy_declared": False,
            "proxy_qid": None,
            "bhyt_number": "GD4799999999901",
            "signature": None,
        },
        warnings=(),
    )


def test_national_qr_full_example():
    c = recognise(NQR_FULL, today=TODAY)
    assert (c.id, c.birth_date, c.sex, c.phone) == ("100000000000000001", "1990-01-01", "female", "0912345678")
    assert c.details["document_number"] == "079190000001"


def test_national_qr_declared_by_proxy_with_masked_phone_and_signature():
    c = recognise(
        "******000001|NGUYEN  THI MAU|****-**-**|1|100000000000000001|"
        "200000000000000002<1<GD4877*******<0943******<SIGNATURE0",
        today=TODAY,
    )
    assert c.name == "NGUYEN THI MAU"
    assert c.birth_date is None and c.warnings == ()
    assert c.sex == "male" and c.phone is None
    assert c.details["proxy_declared"] is True
    assert c.details["proxy_qid"] == "200000000000000002"
    assert c.details["bhyt_number"] == "GD4877*******"
    assert c.details["phone_masked"] == "0943******"
    assert c.details["signature"] == "SIGNATURE0"


@pytest.mark.parametrize(
    "birth, expected, warned",
    [
        ("1990-02-**", "1990", False),
        ("1990-**-15", "1990", False),
        ("", None, False),
        ("1990-13-**", None, True),
        ("1990-02-30", None, True),
        ("01/01/1990", None, True),
    ],
)
def test_national_qr_birth_dates(birth, expected, warned):
    c = recognise(NQR_FULL.replace("1990-01-01", birth), today=TODAY)
    assert c.birth_date == expected
    assert ("birth_date_unreadable" in c.warnings) is warned


def test_national_qr_unknown_sex_empty_ext_and_non_mobile_phone():
    assert recognise(NQR_FULL.replace("<2<", "<0<"), today=TODAY).sex is None
    c = recognise(NQR_FULL.split("|<")[0] + "|", today=TODAY)
    assert c.sex is None and c.phone is None and c.details["bhyt_number"] is None
    c = recognise(NQR_FULL.replace("0912345678", "0123232422"), today=TODAY)
    assert c.phone is None and c.warnings == ("phone_invalid",)


@pytest.mark.parametrize(
    "payload, field",
    [
        (NQR_FULL.replace("100000000000000001", "12345"), "field 4"),
        (NQR_FULL.replace("100000000000000001", "10000000000000000-1"), "field 4"),
        (NQR_FULL.replace("NGUYEN THI MAU", ""), "field 1"),
        (NQR_FULL.replace("NGUYEN THI MAU", "NGUYEN 7"), "field 1"),
    ],
)
def test_malformed_national_qr(payload, field):
    r = refusal(payload)
    assert r.code == "malformed_national_qr"
    assert field in r.detail
    assert "NGUYEN" not in r.detail and "10000000" not in r.detail


# EXT as several independent public scanner projects captured it from PC-Covid (formats.md §3.1):
# "00" where no BHYT number was declared, often an empty part, then the phone; phones masked at the
# end as well as in the middle. Synthetic values throughout.
@pytest.mark.parametrize(
    "ext, sex, phone, masked, bhyt_number",
    [
        ("<1<00<<0912345678", "male", "0912345678", None, None),
        ("<0<00<<0912345678", None, "0912345678", None, None),
        ("<2<00<0912345678", "female", "0912345678", None, None),
        ("<1<00<<0912345***", "male", None, "0912345***", None),
        ("<2<00<0943******", "female", None, "0943******", None),
        ("<2<GD4799999999901<<0912345678", "female", "0912345678", None, "GD4799999999901"),
        ("<2<0799999901<0912345678", "female", "0912345678", None, "0799999901"),  # BHXH no. shaped like a phone
        ("2<GD4877*******<0943******", "female", None, "0943******", "GD4877*******"),  # no leading "<"
        ("<1<00<<+84 912 345 678", "male", "0912345678", None, None),
    ],
)
def test_national_qr_ext_is_read_by_what_each_part_is(ext, sex, phone, masked, bhyt_number):
    c = recognise(NQR_FULL.replace("<2<GD4799999999901<0912345678", ext), today=TODAY)
    assert (c.sex, c.phone, c.details.get("phone_masked"),
            c.details["bhyt_number"]) == (sex, phone, masked, bhyt_number)
    assert c.details["signature"] is None and "ext_extras" not in c.details
    assert c.warnings == ()


def test_national_qr_ext_signature_follows_the_phone_and_later_values_are_kept():
    c = recognise(NQR_FULL.replace("<0912345678", "<<0912345678<SIGNATURE0<v2"), today=TODAY)
    assert c.phone == "0912345678" and c.details["bhyt_number"] == "GD4799999999901"
    assert c.details["signature"] == "SIGNATURE0" and c.details["ext_extras"] == ["v2"]
    assert c.warnings == ()


@pytest.mark.parametrize(
    "ext, kept",
    [
        ("ABC<2<GD4799999999901<0912345678", ["ABC"]),  # proxy QID too short
        ("<2<GD4799999999901<Mẫu<0912345678", ["Mẫu"]),
        ("<9<00<<0912345678", ["9"]),  # not a sex code
        ("<2<??<x<0912345678", ["??", "x"]),
    ],
)
def test_an_unreadable_ext_part_is_a_warning_not_a_refusal(ext, kept):
    c = recognise(NQR_FULL.replace("<2<GD4799999999901<0912345678", ext), today=TODAY)
    assert c.id == "100000000000000001" and c.phone == "0912345678"
    assert c.warnings == ("national_qr_ext_unreadable",)
    assert c.details["ext_extras"] == kept
    assert c.details["proxy_qid"] is None


def test_national_qr_parser_checks_declaration_type_and_field_count():
    for payload in (NQR_FULL.replace("|0|", "|2|"), NQR_FULL + "|x"):
        with pytest.raises(Refused) as info:
            national_qr.parse(payload)
        assert info.value.code == "malformed_national_qr"


# --- Refusals of things that are not credentials, and of bad bytes -----------------------------


@pytest.mark.parametrize(
    "payload, code",
    [
        ("00020101021238570010A000000727012700069704220113VQRQ00000000102080QRIBFTTA"
         "53037045802VN6304ABCD", "payment_qr"),
        ("https://example.invalid/checkin?id=1", "url"),
        ("HTTP://EXAMPLE.INVALID", "url"),
        ("www.example.invalid", "url"),
        ("mailto:mau@example.invalid", "url"),
        ("tel:0912345678", "url"),
        ("HC1:NCFOXN%TS3DH3ZSUZK+.V0ETD%65NL-AH", "vaccine_passport"),
        # MoMo's personal QR in the shapes shops print (synthetic payee).
        ("2|99|0912345678|Nguyen Thi Mau||0|0|50000|Thu|transfer_myqr", "payment_qr"),
        ("2|99|0912345678|NGUYEN THI MAU|mau@example.invalid|0|0|0", "payment_qr"),
        ("2|99|0912345678|0|0|50000", "payment_qr"),  # would look like a national QR by its field 3
        ("2|99|0912345678|Mẫu|0|0|0|20000|Thử|transfer_myqr", "payment_qr"),
        ("hello", "unknown_format"),
        ("a|b|c", "unknown_format"),
        ("a|b|c|d|e|f|g", "unknown_format"),
        ("x|NGUYEN|1990|7|100000000000000001|", "unknown_format"),
        ("", "empty"),
        ("  ", "empty"),
        (b"\x00\x00\r\n", "empty"),
        (b"\xff\xfe\x00\x01", "binary"),
        (b"\xc3\x28", "binary"),
        (12345, "binary"),
        (None, "binary"),
        (b"A" * (MAX_PAYLOAD_BYTES + 1), "oversize"),
        ("Ẫ" * (MAX_PAYLOAD_BYTES // 3 + 1), "oversize"),  # counted in UTF-8 bytes, not characters
        (CCCD_1.replace("Nguyễn", "Nguy\x1bễn"), "control_chars"),
        (CCCD_1.replace(" Thị ", "\tThị "), "control_chars"),
        (CCCD_1.replace("Nguyễn", "\u202eNguyễn"), "control_chars"),
        (CCCD_1.replace("Nguyễn", "Ngu\u200byễn"), "control_chars"),
        (CCCD_1.replace("Nguyễn", "Ngu\ue000yễn"), "control_chars"),
        (CCCD_1.replace("Nguyễn", "Ngu\ud800yễn"), "control_chars"),
        (CCCD_1 + "\x1b", "control_chars"),
        (CCCD_1.replace("|Nữ", "|\ufeffNữ"), "control_chars"),  # a BOM inside the payload
        (CCCD_1.encode("utf-8") + b"\x00\x7f", "control_chars"),
    ],
)
def test_refusal_codes(payload, code):
    assert refusal(payload).code == code


def test_an_id_number_starting_like_a_payment_code_is_not_a_payment_code():
    c = recognise("000201000000||Trần Văn Thử|01012001|Nam||", today=TODAY)
    assert c.kind == "cccd" and c.id == "000201000000"


def test_oversize_limit_is_inclusive():
    padded = CCCD_1 + "|" + "x" * (MAX_PAYLOAD_BYTES - len(CCCD_1.encode()) - 1)
    assert len(padded.encode()) == MAX_PAYLOAD_BYTES
    assert recognise(padded, today=TODAY).id == "079190000001"
    assert refusal(padded + "x").code == "oversize"


def test_refused_is_an_exception_with_code_and_detail():
    r = refusal("https://example.invalid")
    assert isinstance(r, Exception) and r.code == "url" and r.detail


# --- Text clean-up -----------------------------------------------------------------------------


def test_nul_padding_and_line_ends_are_accepted():
    raw = CCCD_1.encode("utf-8") + b"\x00" * 40
    assert recognise(raw, today=TODAY).id == "079190000001"
    assert recognise(CCCD_1 + "\r\n", today=TODAY).id == "079190000001"
    assert recognise("\n" + BHYT_NEW + "\r\n\x00", today=TODAY).id == "7999999901"


def test_bytes_and_text_give_the_same_credential():
    assert recognise(CCCD_1.encode("utf-8"), today=TODAY) == recognise(CCCD_1, today=TODAY)
    assert recognise(bytearray(NQR_MASKED.encode()), today=TODAY) == recognise(NQR_MASKED, today=TODAY)


def test_decomposed_diacritics_give_nfc():
    nfd = unicodedata.normalize("NFD", CCCD_1)
    assert nfd != CCCD_1
    c = recognise(nfd.encode("utf-8"), today=TODAY)
    assert c.name == "Nguyễn Thị Mẫu"
    assert c.details["address"] == "Số 1 Đường Thử Nghiệm, Phường Mẫu, Tỉnh Giả Định"
    assert unicodedata.is_normalized("NFC", c.name)


def test_nfd_inside_bhyt_hex_gives_nfc():
    c = recognise(bhyt_payload(BHYT_OLD, f1=hexname(unicodedata.normalize("NFD", "Nguyễn Thị Mẫu"))), today=TODAY)
    assert c.name == "Nguyễn Thị Mẫu"


def test_credentials_are_json_and_of_a_known_kind():
    for payload in (CCCD_1, CCCD_2, BHYT_OLD, BHYT_NEW, NQR_MASKED, NQR_FULL):
        c = recognise(payload, today=TODAY)
        assert c.kind in KINDS
        json.dumps(c.to_json(), ensure_ascii=False)


def test_today_defaults_to_the_system_date():
    assert "bhyt_expired" in recognise(BHYT_OLD).warnings


# --- Kiosk codes: slips and cards, opened by the kiosk's own verifier (kiosk.printing.codes) ----

VENUE = "venue-mau"


@pytest.fixture
def tokens(tmp_path, store, clock):
    return KioskTokens(VenueKey.create(tmp_path / "venue-token.key"), venue_id=VENUE, store=store, clock=clock)


def a_slip(tokens, store, clock) -> tuple[str, str]:
    """The slip the kiosk prints when CCCD_1's holder checks in, and their visit's id."""
    visit = CheckinDesk(store, clock, kiosk_id="k-01", venue_id=VENUE).present(recognise(CCCD_1, today=TODAY))
    return tokens.slip(visit.visit_id, issued=clock.now()), visit.visit_id


def a_card(tokens, store, clock) -> tuple[str, str]:
    """The card of a person staff registered by phone, and their person id."""
    holder, _ = People(store).register(parse_declaration({"name": "Nguyễn  Thị Mẫu", "phone": "0912345678"}),
                                       staff_id=None)
    return tokens.card(holder.person_id, issued=clock.now()), holder.person_id


#: A well-formed code with any body and signature, for verifiers that do not check them.
ANY_SLIP = kiosk_code.envelope("slip", b"S0001", b"signature!")


def test_well_formed_token_without_a_key_is_unverifiable(tokens, store, clock):
    r = refusal(a_slip(tokens, store, clock)[0])
    assert (r.code, r.detail) == ("token_unverifiable", "this kiosk has no token key yet")


def test_slip_with_verifier(tokens, store, clock):
    slip, visit_id = a_slip(tokens, store, clock)
    c = recognise(slip, verifier=tokens)
    assert (c.kind, c.id, c.name, c.phone) == ("cccd", "079190000001", "Nguyễn Thị Mẫu", None)
    assert c.details == {"id": visit_id, "visit_id": visit_id, "via": "slip"}


def test_kiosk_card_with_verifier(tokens, store, clock):
    token, person_id = a_card(tokens, store, clock)
    assert token.startswith("CK1.C.") and token.isascii() and token == token.upper()
    c = recognise(token, verifier=tokens)
    assert (c.kind, c.id, c.name, c.phone) == ("kiosk_card", person_id, "Nguyễn Thị Mẫu", "0912345678")
    assert c.key == f"kiosk_card:{person_id}" and c.details["via"] == "kiosk_card"


def test_verifier_refusals_pass_through(tokens, store, clock):
    slip, _ = a_slip(tokens, store, clock)
    _, letter, body, signature = slip.split(".")
    forged = f"CK1.{letter}.{body}.{'A' * len(signature)}"
    assert refusal(forged, verifier=tokens).code == "token_forged"
    card, person_id = a_card(tokens, store, clock)
    assert People(store).revoke(person_id)
    assert refusal(card, verifier=tokens).code == "token_revoked"


def test_without_a_verifier_tokens_are_unverifiable(tokens, store, clock):
    slip, visit_id = a_slip(tokens, store, clock)
    assert recognise(slip, verifier=tokens).details["visit_id"] == visit_id
    assert refusal(slip).code == "token_unverifiable"


class BrokenVerifier:
    def __init__(self, result=None, error=None):
        self.result, self.error = result, error

    def verify(self, code_type, body, signature):
        if self.error:
            raise self.error
        return self.result


@pytest.mark.parametrize(
    "verifier",
    [
        BrokenVerifier(error=RuntimeError("bug")),
        BrokenVerifier(result=None),
        BrokenVerifier(result={"name": "no id"}),
        BrokenVerifier(result={"id": ""}),
        BrokenVerifier(result={"id": 7}),
        BrokenVerifier(result={"id": "S1", "person": "not a person"}),
        BrokenVerifier(result={"id": "S1", "person": {"kind": "cccd", "id": ""}}),
        BrokenVerifier(result={"id": "S1", "person": {"kind": None, "id": "079190000001"}}),
    ],
)
def test_a_broken_verifier_gives_a_refusal_not_a_crash(verifier):
    assert refusal(ANY_SLIP, verifier=verifier).code == "token_unverifiable"


def test_verifier_claims_without_a_person_are_unverifiable_whatever_else_they_hold():
    # A code stands for a person (a card's holder, a slip's visitor), never for a token id of its own.
    verifier = BrokenVerifier(result={"id": "C1", "name": "Nguyễn Thị Mẫu", "phone": "0912345678"})
    r = refusal(kiosk_code.envelope("kiosk_card", b"C1", b"signature!"), verifier=verifier)
    assert (r.code, r.detail) == ("token_unverifiable", "the token verifier returned no person")


@pytest.mark.parametrize(
    "payload",
    [
        "CK1.S.AAAA",  # no signature
        "CK1.X.AAAA.AAAA",  # unknown type
        "CK1.S..AAAA",  # empty body
        "CK1.S.AAAA.AAAA.AAAA",
        "CK1.S.aaaa.AAAA",  # lower case
        "ck1.s.AAAA.AAAA",
        "CK1.S.AAAA====.AAAA",  # padding
        "CK1.S.A.AAAA",  # impossible base32 length
        "CK1.S.AB.AAAA",  # non-zero trailing bits
        "CK1.S.AAA1.AAAA",  # 1 is not in the alphabet
        "CK1.S." + "A" * 72 + ".AAAA",  # body too long
        "CK1.S.AAAA." + "A" * 136,  # signature too long
        "CK2.S.AAAA.AAAA" + "|x|y|z|w|v|u",
    ],
)
def test_malformed_tokens(payload, tokens):
    code = refusal(payload, verifier=tokens).code
    assert code == ("malformed_token" if payload.upper().startswith("CK1.") else "unknown_format")


def test_token_parser_refuses_other_kinds_of_codes(tokens):
    with pytest.raises(Refused) as info:
        kiosk_code.parse(CCCD_1, verifier=tokens)
    assert info.value.code == "malformed_token"


def test_a_leading_utf8_byte_order_mark_is_not_part_of_the_payload():
    cred = recognise(b"\xef\xbb\xbf" + CCCD_1.encode())
    assert cred.id == "079190000001" and cred.name == "Nguyễn Thị Mẫu"
    assert refusal("079190000001|\ufeff|Nguyễn Thị Mẫu|01011990|Nữ|x|15072021").code == "control_chars"
