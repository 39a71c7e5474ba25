"""Strict TOML config: unknown keys and bad values are errors naming the key and line."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kiosk.config import Config, ConfigError, load_config, parse_config

CONTRACT_EXAMPLE = '''
[kiosk]
id = "ninhthuan-cho-phanrang-01"
venue_id = "cho-phanrang"
venue_name = "Chợ Phan Rang"
mode = "toggle"
data_dir = "/var/lib/checkin-kiosk"
[camera]
source = "picamera2"
[mqtt]
url = "mqtts://broker.example:8883"
[printer]
kind = "usb"
path = ""
slips = "always"
[web]
listen = "127.0.0.1:8080"
'''


def test_the_contract_example_loads():
    c = parse_config(CONTRACT_EXAMPLE)
    assert c.kiosk.venue_name == "Chợ Phan Rang" and c.printer.slips == "always"
    assert c.explicit_data_dir and c.camera.fps == 15.0


def test_no_file_means_every_default():
    c = load_config(None)
    assert c == Config() and c.kiosk.mode == "toggle" and c.rules.cooldown_s == 10.0
    assert c.rules.max_stay_h == 12.0 and not c.explicit_data_dir


@pytest.mark.parametrize("text, message", [
    ('[camera]\nsorce = "dir:/x"', "line 2: [camera] sorce: unknown key"),
    ('[kiosk]\nid = "k"\n\n[camera]\nfps = 5\nexposure = 100', "line 6: [camera] exposure: unknown key"),
    ("[kiosks]\nid = 'x'", "line 1: unknown section [kiosks]"),
    ('[kiosk]\nmode = "both"', '[kiosk] mode = \'both\': must be one of "entry", "exit", "toggle"'),
    ('[rules]\ncapacity = "10"', "[rules] capacity: must be a whole number"),
    ("[rules]\ncooldown_s = 0", "[rules] cooldown_s = 0.0: must be between 1 and 3600"),
    ('[rules]\nclosing_time = "25:00"', "closing_time = '25:00': must be \"HH:MM\""),
    ("[gpio]\nrelay = 40", "[gpio] relay = 40: must be a BCM GPIO number"),
    ("[gpio]\nrelay = true", "[gpio] relay: must be a whole number (or leave the key out)"),
    ('[camera]\nsource = "usb"', '[camera] source = \'usb\': must be "picamera2"'),
    ('[decoder]\nsymbologies = ["qr_code", "ean13"]', "[decoder] symbologies"),
    ('[kiosk]\ntimezone = "Mars/Olympus"', "IANA time zone"),
    ('[kiosk]\nid = "Chợ 01"', "[kiosk] id = 'Chợ 01': must be lower-case"),
    ('[kiosk]\nid = "collector-2"', 'must not start with "collector"'),
    ('[kiosk]\nid = "cho-01-"', 'must not end with "-"'),
    ('[web]\nlisten = "8080"', "must be HOST:PORT"),
    ('[mqtt]\nurl = "http://broker"', "[mqtt] url"),
    ("[kiosk]\nid = ", "not valid TOML"),
    ("stray = 1", "unknown top-level key 'stray'"),
])
def test_errors_name_the_key(text, message):
    with pytest.raises(ConfigError) as err:
        parse_config(text)
    assert message in str(err.value)


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "kiosk.toml")


def test_errors_name_the_file(tmp_path):
    path = tmp_path / "kiosk.toml"
    path.write_text("[printer]\nkind = 'laser'\n")
    with pytest.raises(ConfigError, match=rf"{path} line 2: \[printer\] kind"):
        load_config(path)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_any_text_is_a_config_or_a_config_error(text):
    try:
        parse_config(text)
    except ConfigError:
        pass


def test_a_config_nested_thousands_deep_is_a_config_error(tmp_path):
    """tomllib recurses out of stack on deep nesting: the kiosk must say which file, not crash."""
    from kiosk.config import ConfigError, load_config

    path = tmp_path / "kiosk.toml"
    path.write_text("x = " + "[" * 5000 + "]" * 5000 + "\n")
    with pytest.raises(ConfigError, match=f"{path}: not valid TOML"):
        load_config(path)
