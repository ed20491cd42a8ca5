"""Which client may ask for which scope.

People's clients (authorization code) may ask for the OpenID scopes and for ``hcmgov.api`` (the
API acting as the person who consented). A machine client (client credentials) may ask for
``hcmgov.api`` (by default) and ``hcmgov.exchange`` (the data sharing platform's gateway, for the
information system the client is registered as), and only while it is bound to an active service account: an application
without one has no identity on the platform, so it gets no scope at all (``invalid_scope``).
"""

from __future__ import annotations

from typing import Any

from oauth2_provider.scopes import SettingsScopes

API_SCOPE = "hcmgov.api"
EXCHANGE_SCOPE = "hcmgov.exchange"
OPENID_SCOPES = ("openid", "profile", "email", "phone")

# Shown on the consent page, Vietnamese first.
SCOPE_TEXTS: dict[str, tuple[str, str]] = {
    "openid": ("Xác nhận danh tính của bạn", "Confirm who you are"),
    "profile": (
        "Họ tên, tên đăng nhập; với cán bộ: cơ quan và vai trò",
        "Your name and user name; for officials: agencies and roles",
    ),
    "email": ("Địa chỉ thư điện tử", "Your e-mail address"),
    "phone": ("Số điện thoại", "Your phone number"),
    API_SCOPE: (
        "Thay bạn sử dụng API của Nền tảng (nộp, xem, xử lý hồ sơ trong phạm vi quyền của bạn)",
        "Use the platform's API on your behalf (file, read, process dossiers within your rights)",
    ),
    EXCHANGE_SCOPE: (
        "Gọi các dịch vụ của Nền tảng tích hợp, chia sẻ dữ liệu (LGSP)",
        "Call services through the data sharing platform (LGSP)",
    ),
}


class CityScopes(SettingsScopes):
    def get_available_scopes(self, application: Any = None, request: Any = None, *args: Any, **kwargs: Any) -> list:
        scopes = list(super().get_available_scopes(application, request, *args, **kwargs))
        if application is None or application.authorization_grant_type != application.GRANT_CLIENT_CREDENTIALS:
            return scopes
        account = application.user
        if account is None or not account.is_active:
            return []
        return [API_SCOPE, EXCHANGE_SCOPE]

    def get_default_scopes(self, application: Any = None, request: Any = None, *args: Any, **kwargs: Any) -> list:
        if application is not None and application.authorization_grant_type == application.GRANT_CLIENT_CREDENTIALS:
            return [s for s in self.get_available_scopes(application, request) if s == API_SCOPE]
        return ["openid"]
