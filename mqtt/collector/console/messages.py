"""Every sentence the tracing console shows, in Vietnamese (default) and English, looked up by the one
rule (:func:`mqtt.plumbing.wording.sentence`).

>>> text("login_title", "vi"), text("case_contacts", "en", n=3)
('Đăng nhập', '3 contact(s)')
"""

from __future__ import annotations

from mqtt.plumbing.wording import sentence

CATALOGUE: dict[str, dict[str, str]] = {
    "console_title": {"vi": "Truy vết tiếp xúc", "en": "Contact tracing"},
    "switch_language": {"vi": "English", "en": "Tiếng Việt"},
    "signed_in_as": {"vi": "Đăng nhập: {name}", "en": "Signed in: {name}"},
    "logout": {"vi": "Đăng xuất", "en": "Sign out"},
    "unknown": {"vi": "Có lỗi, xin thử lại.", "en": "Something went wrong; please try again."},
    # logging in
    "login_title": {"vi": "Đăng nhập", "en": "Sign in"},
    "login_name": {"vi": "Tên đăng nhập", "en": "User name"},
    "login_password": {"vi": "Mật khẩu", "en": "Password"},
    "login_code": {"vi": "Mã 6 số trên ứng dụng xác thực", "en": "6-digit code from your authenticator app"},
    "login_submit": {"vi": "Đăng nhập", "en": "Sign in"},
    "login_bad": {"vi": "Tên, mật khẩu hoặc mã không đúng.", "en": "Wrong name, password or code."},
    "login_throttled": {"vi": "Đã thử quá nhiều lần. Xin thử lại sau {seconds} giây.",
                        "en": "Too many attempts. Please try again in {seconds} s."},
    "login_busy": {"vi": "Máy chủ đang bận, xin thử lại sau giây lát.",
                   "en": "The server is busy; try again in a moment."},
    # the password
    "password_title": {"vi": "Đặt mật khẩu mới", "en": "Choose a new password"},
    "password_first": {"vi": "Mật khẩu dùng một lần phải được thay trước khi làm việc.",
                       "en": "The one-time password must be replaced before you start."},
    "password_current": {"vi": "Mật khẩu hiện tại", "en": "Current password"},
    "password_new": {"vi": "Mật khẩu mới (ít nhất 10 ký tự)", "en": "New password (at least 10 characters)"},
    "password_repeat": {"vi": "Nhập lại mật khẩu mới", "en": "New password again"},
    "password_submit": {"vi": "Lưu mật khẩu", "en": "Save the password"},
    "password_mismatch": {"vi": "Hai lần nhập mật khẩu mới không giống nhau.", "en": "The two new passwords differ."},
    "password_refused": {"vi": "Không lưu được: {why}", "en": "Not saved: {why}"},
    "password_saved": {"vi": "Đã lưu mật khẩu mới. Xin đăng nhập lại.",
                       "en": "New password saved. Please sign in again."},
    # opening a case
    "nav_cases": {"vi": "Ca bệnh", "en": "Cases"},
    "search_title": {"vi": "Mở ca bệnh", "en": "Open a case"},
    "search_kind": {"vi": "Loại giấy tờ", "en": "Kind of identity"},
    "search_id": {"vi": "Số giấy tờ hoặc số điện thoại", "en": "Identity number or phone number"},
    "search_days": {"vi": "Số ngày truy ngược", "en": "Days to look back"},
    "search_submit": {"vi": "Tìm tiếp xúc", "en": "Find contacts"},
    "search_bad": {"vi": "Số giấy tờ hoặc số điện thoại không hợp lệ.",
                   "en": "That identity or phone number is not valid."},
    "kind_cccd": {"vi": "CCCD / Căn cước", "en": "Citizen ID (CCCD)"},
    "kind_bhyt": {"vi": "Thẻ BHYT", "en": "Health-insurance card (BHYT)"},
    "kind_national_qr": {"vi": "Mã QR quốc gia", "en": "National COVID QR"},
    "kind_kiosk_card": {"vi": "Thẻ của máy", "en": "Kiosk card"},
    "kind_slip": {"vi": "Phiếu in", "en": "Printed slip"},
    "kind_phone": {"vi": "Số điện thoại", "en": "Phone number"},
    "no_role": {"vi": "Tài khoản này không có quyền xem trang này.", "en": "This account may not see this page."},
    # a case
    "case_title": {"vi": "Ca bệnh {person}", "en": "Case {person}"},
    "case_window": {"vi": "{days} ngày gần nhất", "en": "the last {days} days"},
    "case_no_visits": {"vi": "Không có lượt đến nào trong khoảng thời gian này.", "en": "No visits in this window."},
    "case_visits": {"vi": "Nơi đã đến", "en": "Where they went"},
    "case_contacts": {"vi": "{n} người tiếp xúc", "en": "{n} contact(s)"},
    "case_none": {"vi": "Không có ai tiếp xúc.", "en": "Nobody shared a place with them."},
    "col_venue": {"vi": "Địa điểm", "en": "Venue"},
    "col_in": {"vi": "Vào", "en": "In"},
    "col_out": {"vi": "Ra", "en": "Out"},
    "col_name": {"vi": "Họ tên", "en": "Name"},
    "col_id": {"vi": "Giấy tờ", "en": "Identity"},
    "col_phone": {"vi": "Điện thoại", "en": "Phone"},
    "col_shared": {"vi": "Thời gian chung", "en": "Time shared"},
    "col_when": {"vi": "Khi nào", "en": "When"},
    "still_inside": {"vi": "đang ở trong", "en": "still inside"},
    "estimated": {"vi": "ước tính", "en": "estimated"},
    "case_handled": {"vi": "Đã xử lý lúc {at}: {note}", "en": "Handled at {at}: {note}"},
    "case_mark_handled": {"vi": "Đánh dấu đã xử lý", "en": "Mark as handled"},
    "case_note": {"vi": "Ghi chú", "en": "Note"},
    "not_found": {"vi": "Không tìm thấy.", "en": "Not found."},
    "store_down": {"vi": "Kho dữ liệu trung tâm đang không trả lời. Xin thử lại sau ít phút.",
                   "en": "The central store is not answering. Please try again in a few minutes."},
    "exposure_title": {"vi": "Ai đã ở một địa điểm", "en": "Who was at a venue"},
    "exposure_from": {"vi": "Từ giờ", "en": "From"},
    "exposure_to": {"vi": "Đến giờ", "en": "To"},
    "exposure_submit": {"vi": "Tìm người có mặt", "en": "Find who was there"},
    "exposure_bad": {"vi": "Địa điểm, ngày hoặc giờ không hợp lệ.", "en": "That venue, day or time is not valid."},
    "exposure_heading": {"vi": "{n} người có mặt ở {venue}, {day} từ {start} đến {end}",
                         "en": "{n} people at {venue} on {day} from {start} to {end}"},
    "col_present": {"vi": "Thời gian có mặt", "en": "Time there"},
    "export_xlsx": {"vi": "Tải danh sách (Excel)", "en": "Download the list (Excel)"},
    "export_csv": {"vi": "Tải danh sách (CSV)", "en": "Download the list (CSV)"},
    # each role's home
    "figures_title": {"vi": "Số liệu 7 ngày qua", "en": "The last 7 days"},
    "figures_xlsx": {"vi": "Tải theo ngày (Excel)", "en": "Download by day (Excel)"},
    "figures_weeks_xlsx": {"vi": "Tải 4 tuần qua (Excel)", "en": "Download the last 4 weeks (Excel)"},
    "figures_none": {"vi": "Chưa có lượt vào nào.", "en": "No check-ins yet."},
    "col_day": {"vi": "Ngày", "en": "Day"},
    "col_check_ins": {"vi": "Lượt vào", "en": "Check-ins"},
    "col_visitors": {"vi": "Số người", "en": "Visitors"},
    "col_peak": {"vi": "Đông nhất", "en": "Peak inside"},
    "col_kiosks": {"vi": "Số máy", "en": "Kiosks"},
    "fleet_title": {"vi": "Các máy", "en": "Kiosks"},
    "fleet_none": {"vi": "Chưa có máy nào báo về.", "en": "No kiosk has reported yet."},
    "col_kiosk": {"vi": "Máy", "en": "Kiosk"},
    "col_status": {"vi": "Trạng thái", "en": "Status"},
    "col_last_seen": {"vi": "Lần cuối", "en": "Last seen"},
    "col_outbox": {"vi": "Chờ gửi", "en": "Waiting"},
    "col_gaps": {"vi": "Thiếu", "en": "Gaps"},
    "col_selftest": {"vi": "Tự kiểm tra", "en": "Self-test"},
    "selftest_passed": {"vi": "đạt", "en": "passed"},
    "selftest_failed": {"vi": "KHÔNG ĐẠT", "en": "FAILED"},
    "users_title": {"vi": "Người dùng", "en": "Users"},
    "col_user": {"vi": "Tên", "en": "Name"},
    "col_roles": {"vi": "Vai trò", "en": "Roles"},
    "audit_title": {"vi": "Nhật ký tra cứu (20 dòng gần nhất)", "en": "Audit (the latest 20)"},
    "col_who": {"vi": "Ai", "en": "Who"},
    "col_action": {"vi": "Việc", "en": "Action"},
    "col_results": {"vi": "Kết quả", "en": "Results"},
}

_FALLBACK = "unknown"


def text(code: str, language: str = "vi", **values) -> str:
    return sentence(CATALOGUE, code, language, fallback=_FALLBACK, **values)
