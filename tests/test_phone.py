"""Vietnamese mobile numbers: canonical form and masking (formats.md §5.1). Numbers are synthetic."""

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.credentials.phone import mask_phone, normalise_phone


@pytest.mark.parametrize(
    "typed",
    [
        "0912345678",
        "0912 345 678",
        "+84912345678",
        "84912345678",
        "0084-912-345-678",
        "(+84) 912.345.678",
        " 0912345678 ",
        # The national 0 kept after the country code, as people write it (issue 10, item 18).
        "+840912345678",
        "+84 (0) 912 345 678",
        "840912345678",
        "0084 0912 345 678",
    ],
)
def test_accepted_forms_give_the_canonical_number(typed):
    assert normalise_phone(typed) == "0912345678"


@pytest.mark.parametrize("number", ["0552345678", "0872345678", "0321234567", "0701234567", "0991234567"])
def test_current_mobile_prefixes_are_accepted(number):
    assert normalise_phone(number) == number


@pytest.mark.parametrize(
    "typed, says",
    [
        ("01623456789", "032"),  # Viettel 0162 became 032 in 2018
        ("+841203456789", "070"),
        ("02812345678", "landline"),
        ("0212345678", "unknown prefix"),
        ("+8402812345678", "landline"),  # the kept 0 does not hide what the number is
        ("+8401623456789", "032"),
        ("+8400912345678", "10 digits"),  # only one national 0 is dropped
        ("0112345678", "unknown prefix"),
        ("091234567", "10 digits"),
        ("+84", "10 digits"),  # a prefix alone is too short, not a wrong character
        ("09123456789", "10 digits"),
        ("", "starts with 0 or +84"),
        ("+14155550100", "starts with 0 or +84"),
        ("09l2345678", "only digits"),
        ("０９１２３４５６７８", "starts with 0 or +84"),  # full-width digits
        ("0٩12345678", "only digits"),  # an Arabic-Indic digit
    ],
)
def test_refused_numbers_say_why(typed, says):
    with pytest.raises(ValueError, match=re.escape(says)):
        normalise_phone(typed)


def test_error_message_does_not_repeat_the_number():
    with pytest.raises(ValueError) as info:
        normalise_phone("01623456789")
    assert "3456789" not in str(info.value)


def test_non_text_is_a_value_error():
    with pytest.raises(ValueError):
        normalise_phone(912345678)


def test_mask_phone():
    assert mask_phone("0912345678") == "0912***678"
    assert mask_phone("+84 912 345 678") == "0912***678"
    with pytest.raises(ValueError):
        mask_phone("12345")


# National significant numbers (the 9 digits after 0) that are mobiles.
mobile_nsn = st.builds(
    lambda head, rest: head + rest,
    st.sampled_from(["32", "39", "52", "55", "56", "58", "59", "70", "76", "79", "81", "87", "89", "90", "99"]),
    st.text("0123456789", min_size=7, max_size=7),
)


@settings(max_examples=200, deadline=None)
@given(
    nsn=mobile_nsn,
    prefix=st.sampled_from(["0", "+84", "84", "0084", "+840", "840", "00840"]),
    seps=st.lists(st.sampled_from([" ", ".", "-", "(", ")", ""]), min_size=14, max_size=14),
)
def test_any_accepted_form_round_trips(nsn, prefix, seps):
    typed = "".join(c + s for c, s in zip(prefix + nsn, seps, strict=False))   # more separators than digits
    assert normalise_phone(typed) == "0" + nsn
    assert mask_phone(typed) == "0" + nsn[:3] + "***" + nsn[-3:]


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=20) | st.text("0123456789+ .-()", max_size=16))
def test_any_text_gives_a_canonical_number_or_value_error(text):
    try:
        out = normalise_phone(text)
    except ValueError as exc:
        assert str(exc)
    else:
        assert re.fullmatch(r"0[0-9]{9}", out)
        assert normalise_phone(out) == out


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=20) | st.text("0123456789+ .-()", max_size=16)
       | st.builds(lambda nsn, prefix: prefix + nsn, st.text("0123456789", min_size=8, max_size=11),
                   st.sampled_from(["0", "+84", "84", "0084", "+84 (0) ", "840"])))
def test_the_form_is_the_event_contracts_and_the_mobile_rules_the_kiosks(text):
    """One rule for how a number is written (mqtt.wire.event.canonical_phone, which the collector
    applies to a phone staff type for a trace): every number the kiosk takes is in the form the
    contract gives it; what the contract's form refuses, the kiosk refuses too."""
    from mqtt.wire.event import canonical_phone
    try:
        canonical = canonical_phone(text)
    except ValueError:
        canonical = None
    try:
        phone = normalise_phone(text)
    except ValueError:
        phone = None
    assert phone is None or phone == canonical
