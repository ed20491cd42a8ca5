"""The provider behind the gateway in ``bench/gateway.py``: a department's record service, as a
bare ASGI application (served by granian, like the gateway), answering ``GET /records/{id}`` with
a land-parcel record of about 700 bytes of JSON built from the id. It reads no database, so that
what the gateway adds is not hidden behind the provider's own cost; ``bench/gateway.py`` also puts
a real service of the platform (the dossier tracking API on PostgreSQL) behind it."""

from __future__ import annotations

import json
from typing import Any

WARDS = ["Phường Bến Nghé", "Phường Đa Kao", "Phường Tân Định", "Phường Bến Thành", "Phường Cầu Ông Lãnh"]


def record(rid: str) -> bytes:
    n = sum(map(ord, rid))
    return json.dumps(
        {
            "so_thua": rid,
            "to_ban_do": n % 97 + 1,
            "dien_tich_m2": round(40 + (n % 500) * 1.37, 2),
            "muc_dich_su_dung": "Đất ở tại đô thị (ODT)",
            "dia_chi": f"{n % 300 + 1} Đường Lê Lợi, {WARDS[n % len(WARDS)]}, Thành phố Hồ Chí Minh",
            "chu_su_dung": {"ho_ten": "Nguyễn Văn An", "so_dinh_danh": f"079{n:09d}"[:12]},
            "giay_chung_nhan": {"so_phat_hanh": f"CS{n:08d}", "ngay_cap": "2019-05-14"},
            "tinh_trang_the_chap": n % 3 == 0,
            "cap_nhat": "2026-11-01T08:00:00+07:00",
        },
        ensure_ascii=False,
    ).encode()


async def application(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            else:
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    path = scope["path"]
    if path.startswith("/records/"):
        status, body = 200, record(path[len("/records/") :])
    else:
        status, body = 404, b'{"error":"not found"}'
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
