"""The certification book's rows of the page authorization matrix
(``web/tests/test_authorization_matrix.py``).

The matrix fills a route's parameters from its ``authz_world``, which has no certification; the
entry's parameters are this mapping, which records an electronic certification at the world's
agency X when the matrix reads ``pk`` — a row with a stored PDF, as the world records its result
(the pages only read it; the signing is tested in ``test_certification``). Once the world carries
one, the routes read ``Route({"pk": "certification_id"}, ...)`` and this module goes."""

from __future__ import annotations

from typing import Any

MATRIX_REQUESTER = "Người yêu cầu ma trận"


class CertificationParams(dict[str, str]):
    def __getitem__(self, key: str) -> str:
        if key != "pk":
            return super().__getitem__(key)
        from django.utils import timezone

        from hcmgov.documents import storage
        from hcmgov.documents.models import Certification
        from hcmgov.documents.tests import crafted
        from hcmgov.dossiers.models import Dossier
        from hcmgov.identity import selectors as identity

        found: Any = Certification.objects.filter(requester_name=MATRIX_REQUESTER).first()
        if found is None:
            agency_id = Dossier.objects.get(idempotency_key="matrix-1").agency_id
            now = timezone.now()
            signed = storage.blob_put(data=crafted.pdf(), filename="ban-sao.pdf", retention="permanent")
            found = Certification.objects.create(
                agency_id=agency_id, year=now.year, number=1, kind="electronic", certified_at=now,
                requester_name=MATRIX_REQUESTER, document_title="Giấy khai sinh", pages=1, copies=1, fee=2000,
                official=identity.users_with_role(agency_id=agency_id, roles={"leader"})[0], signed=signed,
                signed_sha256=signed.sha256, created_at=now,
            )  # fmt: skip
        return "=" + str(found.pk)


CERTIFICATION_PARAMS = CertificationParams(pk="")
