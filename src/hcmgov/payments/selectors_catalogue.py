"""Reads of the payments app for the service-quality index's indicator 3.2 (Decision 766/QĐ-TTg:
fee procedures integrated for online payment through the national payment platform)."""

from __future__ import annotations

import datetime as dt

from hcmgov.payments.models import Beneficiary


def agency_codes_with_beneficiary(*, day: dt.date | None = None) -> set[str]:
    """The codes of the agencies with a beneficiary account on record (on ``day``: taking payments
    from it or before): the platform makes the national payment platform's bill for their
    dossiers' fees (``services.order_national_bill`` refuses without one), so every fee procedure
    they carry out can be paid online through it."""
    accounts = Beneficiary.objects.all() if day is None else Beneficiary.objects.filter(valid_from__lte=day)
    return set(accounts.values_list("agency__code", flat=True))
