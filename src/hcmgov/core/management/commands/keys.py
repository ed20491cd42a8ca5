"""``hcmgov keys``: the keys that encrypt personal data at rest (:mod:`hcmgov.common.crypto`) —
``new ID`` makes a key, ``status`` counts the values each key holds per encrypted column,
``rotate`` re-encrypts every value under the newest key, ``reindex`` recomputes the blind indexes
(after ``HCMGOV_INDEX_KEY`` changed). The rotation procedure is in docs/decisions/0017."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from hcmgov.common import crypto


def _column(model: Any, field: Any) -> str:
    return f"{model._meta.label}.{field.name}"


class Command(BaseCommand):
    help = (
        "Khóa mã hóa dữ liệu cá nhân: tạo, thống kê, xoay vòng, tính lại chỉ mục / "
        "the keys of personal data at rest: new, status, rotate, reindex."
    )

    def add_arguments(self, parser: Any) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="{new,status,rotate,reindex}")
        new = actions.add_parser(
            "new", help="In một khóa mới dạng ID:khóa / print a fresh key as ID:base64key for HCMGOV_DATA_KEYS."
        )
        new.add_argument("key_id", metavar="ID", help="Mã khóa / the key's id ([A-Za-z0-9_-], 1–16 characters).")
        actions.add_parser(
            "status", help="Số giá trị theo từng khóa, mỗi cột / how many values each key holds, per column."
        )
        actions.add_parser(
            "rotate", help="Mã hóa lại mọi giá trị bằng khóa mới nhất / re-encrypt every value under the newest key."
        )
        actions.add_parser(
            "reindex", help="Tính lại mọi chỉ mục mù / recompute every blind index (after HCMGOV_INDEX_KEY changed)."
        )

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        try:
            if action == "new":
                self.new(options["key_id"])
            elif action == "status":
                self.status()
            elif action == "rotate":
                self.rotate()
            else:
                self.reindex()
        except crypto.CryptoError as exc:
            raise CommandError(f"Lỗi khóa / key error: {exc}") from exc

    def new(self, key_id: str) -> None:
        if not crypto.KEY_ID.match(key_id):
            raise CommandError(
                f"Mã khóa {key_id!r} không hợp lệ / invalid key id {key_id!r}: 1–16 characters of [A-Za-z0-9_-]."
            )
        self.stdout.write(f"{key_id}:{crypto.key_new()}")
        self.stderr.write(
            "Đặt khóa này đầu tiên trong HCMGOV_DATA_KEYS, giữ các khóa cũ, rồi chạy `hcmgov keys rotate` / "
            "put it first in HCMGOV_DATA_KEYS, keep the older keys, then run `hcmgov keys rotate`."
        )

    def status(self) -> None:
        ring = crypto.keyring()
        self.stdout.write(f"Khóa mới nhất / newest key: {ring.current} · các khóa / keys: {', '.join(ring.keys)}")
        stale = 0
        for model, field in crypto.encrypted_columns():
            usage = crypto.key_usage(model, field)
            parts = []
            for key_id, count in sorted(usage.items(), key=lambda kv: (kv[0] != ring.current, kv[0])):
                note = "" if key_id in ring.keys else " (không có khóa / key missing)"
                if key_id == "?":
                    note = " (không phải bản mã / not a ciphertext)"
                parts.append(f"{key_id} {count:,}{note}")
                stale += count if key_id != ring.current else 0
            self.stdout.write(f"  {_column(model, field)}: {', '.join(parts) or '—'}")
        if stale:
            self.stdout.write(
                f"Còn {stale:,} giá trị dưới khóa cũ: chạy `hcmgov keys rotate` / "
                f"{stale:,} values under an older key: run `hcmgov keys rotate`."
            )
        else:
            self.stdout.write(
                "Mọi giá trị đều dưới khóa mới nhất: có thể bỏ các khóa cũ / "
                "every value is under the newest key: the older keys can be dropped."
            )

    def rotate(self) -> None:
        current = crypto.keyring().current
        total = 0
        for model, field in crypto.encrypted_columns():
            done = crypto.reencrypt(model, field)
            total += done
            self.stdout.write(f"  {_column(model, field)}: {done:,}")
        self.stdout.write(
            f"Đã mã hóa lại {total:,} giá trị bằng khóa {current} / re-encrypted {total:,} values under key {current}."
        )

    def reindex(self) -> None:
        total = 0
        for model, field in crypto.encrypted_columns():
            if not field.index:
                continue
            changed = crypto.reindex(model, field)
            total += changed
            self.stdout.write(f"  {_column(model, field)} → {field.index}: {changed:,}")
        self.stdout.write(f"Đã tính lại {total:,} chỉ mục / recomputed {total:,} indexes.")
