"""``hcmgov pki_demo``: the demo CA, and a demo signing certificate for every agency without one."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand
from django.utils import timezone

from hcmgov.core import selectors as core
from hcmgov.documents import pki
from hcmgov.documents.models import SigningCertificate


class Command(BaseCommand):
    help = (
        "Tạo CA thử nghiệm (nếu chưa có) và chứng thư số thử nghiệm cho mỗi cơ quan chưa có / "
        "Make the demo CA if missing and a demo signing certificate for every agency that has none (demo only)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        started = time.perf_counter()
        authority = pki.ca_ensure()
        today = timezone.localdate()
        having = set(SigningCertificate.objects.filter(active=True).values_list("agency_id", flat=True))
        missing = [a.pk for a in core.agency_list(day=today) if a.pk not in having]
        for agency_id in missing:
            pki.certificate_issue_demo(agency_id=agency_id)
        elapsed = time.perf_counter() - started
        self.stdout.write(
            f"CA thử nghiệm / demo CA: {authority.folder}\n"
            f"Đã cấp / issued: {len(missing)} chứng thư / certificates "
            f"({len(having)} cơ quan đã có / agencies already had one) trong / in {elapsed:.2f} s"
        )
