"""What the self-test report says, in Vietnamese (default) and English.

Each check's sentence is a key here with ``{values}``; the central copy of the report carries the
English sentence, the technician's terminal the chosen language.
"""

from __future__ import annotations

#: The checks' names, in the order they run and are shown.
NAMES = {
    "config": ("Cấu hình", "Configuration"),
    "certificates": ("Chứng chỉ", "Certificates"),
    "storage": ("Lưu trữ", "Storage"),
    "clock": ("Đồng hồ", "Clock"),
    "printer": ("Máy in", "Printer"),
    "signals": ("Đèn, còi, cửa", "Lights, buzzer, door"),
    "camera": ("Máy ảnh", "Camera"),
    "test_code": ("Mã thử", "Test code"),
    "broker": ("Máy chủ MQTT", "MQTT broker"),
}

SENTENCES = {
    # config
    "config_ok": ("hợp lệ ({path})", "valid ({path})"),
    "config_defaults": ("không có tệp cấu hình, dùng mặc định", "no config file: defaults"),
    "config_bad": ("không hợp lệ: {error}", "invalid: {error}"),
    "needs_config": ("bỏ qua: cần cấu hình hợp lệ", "skipped: needs a valid configuration"),
    # certificates
    "certs_ok": ("hợp lệ đến {until} (còn {days} ngày), CN {cn}", "valid until {until} ({days} days left), CN {cn}"),
    "certs_soon": ("sắp hết hạn: {until} (còn {days} ngày); cấp lại bằng kiosk-provision",
                   "expire soon: {until} ({days} days left); reissue with kiosk-provision"),
    "certs_expired": ("đã hết hạn từ {until}; cấp lại bằng kiosk-provision",
                      "expired on {until}; reissue with kiosk-provision"),
    "certs_not_yet": ("chưa có hiệu lực đến {since} (đồng hồ sai?)", "not valid before {since} (clock wrong?)"),
    "certs_missing": ("thiếu {what}: {path}", "{what} missing: {path}"),
    "certs_unreadable": ("không đọc được {what} ({path}): {error}", "cannot read the {what} ({path}): {error}"),
    "certs_wrong_cn": ("CN {cn} khác mã kiosk {kiosk}", "CN {cn} is not the kiosk id {kiosk}"),
    "certs_wrong_ca": ("chứng chỉ không do CA của đội kiosk cấp", "the certificate was not issued by the fleet CA"),
    "certs_wrong_key": ("khóa riêng không khớp với chứng chỉ", "the private key does not match the certificate"),
    "certs_plain": ("không dùng TLS ({url})", "no TLS ({url})"),
    "certs_plain_kiosk": ("không dùng TLS ({url}): dữ liệu đi không mã hóa", "no TLS ({url}): events travel unencrypted"),
    # storage
    "storage_ok": ("{path}: ghi được, còn trống {free}", "{path}: writable, {free} free"),
    "storage_low": ("{path}: chỉ còn trống {free}", "{path}: only {free} free"),
    "storage_bad": ("{path}: {error}", "{path}: {error}"),
    # clock
    "clock_ok": ("đã đồng bộ NTP ({now})", "synchronised by NTP ({now})"),
    "clock_unsynced": ("chưa đồng bộ NTP ({now}); kiểm tra mạng và systemd-timesyncd",
                       "not synchronised by NTP ({now}); check the network and systemd-timesyncd"),
    "clock_unsynced_sim": ("máy này chưa đồng bộ NTP ({now}); mô phỏng nên chỉ cảnh báo",
                           "this machine is not NTP-synchronised ({now}); only a warning in simulation"),
    # printer
    "printer_none": ("không có máy in ([printer] kind = \"none\")", "no printer ([printer] kind = \"none\")"),
    "printer_ok": ("đã in trang thử ({kind}); trạng thái: {state}", "test page printed ({kind}); state: {state}"),
    "printer_bad": ("không in được ({kind}): {error}", "cannot print ({kind}): {error}"),
    # signals
    "signals_ok": ("đã bật/tắt {devices}: hãy nhìn đèn và nghe còi", "cycled {devices}: watch the lights, listen for the beep"),
    "signals_none": ("không có đèn, còi hay rơ-le nào được cấu hình", "no lights, buzzer or relay configured"),
    "signals_stuck": ("{devices} không theo lệnh bật/tắt", "{devices} did not follow on/off"),
    "signals_bad": ("không mở được GPIO: {error}", "cannot open the GPIO: {error}"),
    # camera
    "camera_ok": ("{source}: {fps} khung hình/giây", "{source}: {fps} frames/s"),
    "camera_slow": ("{source}: chỉ {fps} khung hình/giây (cấu hình {target})", "{source}: only {fps} frames/s (configured {target})"),
    "camera_bad": ("{source}: {error}", "{source}: {error}"),
    # test code
    "code_ok": ("đọc được sau {seconds} giây", "read after {seconds} s"),
    "code_missed": ("không đọc được trong {seconds} giây: đưa trang thử (hoặc mã trên màn hình) cách máy ảnh 20–40 cm",
                    "not read within {seconds} s: hold the test page (or the code on screen) 20-40 cm from the camera"),
    "code_no_camera": ("bỏ qua: máy ảnh không hoạt động", "skipped: the camera does not work"),
    "code_show": ("Đưa mã thử này vào máy ảnh (trang thử đã in, hoặc màn hình này):",
                  "Show this test code to the camera (the printed test page, or this screen):"),
    # the printed test page
    "page_title": ("TRANG IN THỬ", "PRINTER TEST PAGE"),
    "page_kiosk": ("Kiosk {kiosk}", "Kiosk {kiosk}"),
    "page_fonts": ("Tiếng Việt: ă â đ ê ô ơ ư — Ấ Ầ Ẩ Ẫ Ậ Ữ Ỵ", "Vietnamese: ă â đ ê ô ơ ư — Ấ Ầ Ẩ Ẫ Ậ Ữ Ỵ"),
    "page_note": ("Đưa mã này vào máy ảnh của kiosk để kiểm tra.", "Show this code to the kiosk's camera."),
    # broker
    "broker_ok": ("{host}: báo cáo đã đến bộ thu và được xác nhận sau {seconds} giây",
                  "{host}: the report reached the collector, acked after {seconds} s"),
    "broker_central": ("báo cáo này đã đến bộ thu", "this report reached the collector"),
    "broker_down": ("không kết nối được {host}: {error}", "cannot connect to {host}: {error}"),
    "broker_no_ack": ("{host}: đã kết nối nhưng bộ thu không xác nhận trong {seconds} giây (bộ thu có chạy không?)",
                      "{host}: connected, but no collector acked within {seconds} s (is the collector running?)"),
    "broker_skipped": ("không gửi báo cáo (--no-publish)", "report not sent (--no-publish)"),
    # the report
    "title": ("Tự kiểm tra kiosk {kiosk} ({venue}) lúc {at}", "Self-test of kiosk {kiosk} ({venue}) at {at}"),
    "passed": ("KẾT QUẢ: ĐẠT", "RESULT: PASSED"),
    "passed_warnings": ("KẾT QUẢ: ĐẠT, {n} cảnh báo", "RESULT: PASSED with {n} warning(s)"),
    "failed": ("KẾT QUẢ: KHÔNG ĐẠT, {n} lỗi", "RESULT: FAILED, {n} problem(s)"),
}


#: The feedback devices, as a list value of a sentence names them.
DEVICES = {"green": ("đèn xanh", "green light"), "red": ("đèn đỏ", "red light"), "buzzer": ("còi", "buzzer"),
           "relay": ("rơ-le cửa", "door relay")}


def say(key: str, language: str = "vi", **values) -> str:
    vi, en = SENTENCES[key]
    pick = 1 if language == "en" else 0
    values = {k: ", ".join(DEVICES[d][pick] for d in v) if isinstance(v, list) else v for k, v in values.items()}
    return (vi, en)[pick].format(**values)


def name(check: str, language: str = "vi") -> str:
    vi, en = NAMES[check]
    return en if language == "en" else vi
