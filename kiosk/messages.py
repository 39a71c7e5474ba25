"""Every sentence the kiosk shows a person, in Vietnamese (default) and English.

>>> text("payment_qr", "vi")
'Mã này là mã thanh toán, không phải giấy tờ tùy thân.'
"""

from __future__ import annotations

CATALOGUE: dict[str, dict[str, str]] = {
    # Accepted
    "check_in": {"vi": "Xin chào {name} — đã vào lúc {time}", "en": "Welcome {name} — checked in at {time}"},
    "check_out": {"vi": "Tạm biệt {name} — đã ra lúc {time}", "en": "Goodbye {name} — checked out at {time}"},
    "idle": {"vi": "Đưa mã QR trên CCCD, thẻ BHYT hoặc ứng dụng vào trước camera",
             "en": "Hold the QR code of your ID card, health-insurance card or app up to the camera"},
    # Refused by the rules
    "not_inside": {"vi": "Không tìm thấy lượt vào của bạn tại đây. Vui lòng gặp nhân viên.",
                   "en": "No check-in found for you here. Please see the staff."},
    "venue_full": {"vi": "Địa điểm đã đủ người. Vui lòng chờ.", "en": "The venue is full. Please wait."},
    # Refused codes
    "payment_qr": {"vi": "Mã này là mã thanh toán, không phải giấy tờ tùy thân.",
                   "en": "This is a payment code, not an identity document."},
    "url": {"vi": "Mã này là đường dẫn web, không phải giấy tờ tùy thân.",
            "en": "This is a web link, not an identity document."},
    "vaccine_passport": {"vi": "Hộ chiếu vắc-xin không dùng để ghi vào/ra. Hãy dùng CCCD hoặc thẻ BHYT.",
                         "en": "A vaccine passport cannot be used to check in. Use your ID or health-insurance card."},
    "oversize": {"vi": "Mã quá dài, không phải giấy tờ tùy thân.", "en": "This code is too long to be an identity document."},
    "binary": {"vi": "Mã này không phải giấy tờ tùy thân.", "en": "This code is not an identity document."},
    "empty": {"vi": "Mã trống. Vui lòng thử lại.", "en": "The code is empty. Please try again."},
    "control_chars": {"vi": "Mã chứa ký tự không hợp lệ.", "en": "The code contains invalid characters."},
    "unknown_format": {"vi": "Mã này không phải giấy tờ tùy thân.", "en": "This code is not an identity document."},
    "malformed_cccd": {"vi": "Mã CCCD không đọc được đầy đủ. Vui lòng gặp nhân viên.",
                       "en": "The ID-card code is incomplete. Please see the staff."},
    "malformed_bhyt": {"vi": "Mã thẻ BHYT không đọc được đầy đủ. Vui lòng gặp nhân viên.",
                       "en": "The health-insurance code is incomplete. Please see the staff."},
    "malformed_national_qr": {"vi": "Mã QR cá nhân không hợp lệ. Vui lòng gặp nhân viên.",
                              "en": "The personal QR code is not valid. Please see the staff."},
    "malformed_token": {"vi": "Phiếu hoặc thẻ này không hợp lệ.", "en": "This slip or card is not valid."},
    "token_unverifiable": {"vi": "Máy chưa được cài khóa để đọc phiếu. Vui lòng gặp nhân viên.",
                           "en": "This kiosk cannot check slips yet. Please see the staff."},
    "token_forged": {"vi": "Phiếu hoặc thẻ này không hợp lệ.", "en": "This slip or card is not valid."},
    "token_expired": {"vi": "Phiếu hoặc thẻ này đã hết hạn.", "en": "This slip or card has expired."},
    "token_revoked": {"vi": "Thẻ này đã bị thu hồi. Vui lòng gặp nhân viên.",
                      "en": "This card has been revoked. Please see the staff."},
    "token_used": {"vi": "Phiếu này đã được dùng.", "en": "This slip has already been used."},
    "token_other_venue": {"vi": "Phiếu hoặc thẻ này của địa điểm khác.", "en": "This slip or card is for another venue."},
    # The kiosk's own trouble
    "disk_full": {"vi": "Máy đang lỗi lưu trữ (hết dung lượng), chưa ghi được. Vui lòng gặp nhân viên.",
                  "en": "Storage error (disk full): not recorded. Please see the staff."},
    "locked": {"vi": "Máy đang bận, chưa ghi được. Vui lòng thử lại.",
               "en": "The kiosk is busy: not recorded. Please try again."},
    "io_error": {"vi": "Máy đang lỗi lưu trữ, chưa ghi được. Vui lòng gặp nhân viên.",
                 "en": "Storage error: not recorded. Please see the staff."},
    "camera_error": {"vi": "Camera đang lỗi. Vui lòng gặp nhân viên.",
                     "en": "The camera is not working. Please see the staff."},
}

_FALLBACK = "unknown_format"


def text(code: str, language: str = "vi", **values: str) -> str:
    """The sentence for ``code`` in ``language``; unknown codes read as an unrecognised code."""
    entry = CATALOGUE.get(code) or CATALOGUE[_FALLBACK]
    return entry.get(language, entry["vi"]).format(**values) if values else entry.get(language, entry["vi"])
