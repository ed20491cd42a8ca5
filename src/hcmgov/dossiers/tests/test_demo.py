"""``hcmgov demo`` builds a coherent city: codes gap-free per agency and day, history per dossier."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

import pytest
from django.core.management import call_command

from hcmgov.core.models import DaySequence
from hcmgov.dossiers.models import Dossier, DossierEvent

pytestmark = pytest.mark.django_db


def test_demo_dossiers_are_coherent(city):
    call_command("demo", dossiers=400, quiet=True)
    assert Dossier.objects.count() == 400
    by_day = defaultdict(list)
    for code in Dossier.objects.values_list("code", flat=True):
        prefix, number = code.rsplit("-", 1)
        by_day[prefix].append(int(number))
    for prefix, numbers in by_day.items():
        assert sorted(numbers) == list(range(1, len(numbers) + 1)), prefix
        agency, yymmdd = prefix.rsplit("-", 1)
        day = dt.datetime.strptime(yymmdd, "%y%m%d").date()
        assert DaySequence.objects.get(scope=agency, day=day).last == len(numbers)
    assert not Dossier.objects.filter(events=None).exists()
    last_status = {}
    for dossier_id, status in DossierEvent.objects.order_by("dossier", "at", "id").values_list("dossier", "status_to"):
        last_status[dossier_id] = status  # ends with each dossier's latest event
    for dossier_id, status in Dossier.objects.values_list("id", "status"):
        assert last_status[dossier_id] == status
    # a second run adds to the same days without breaking the sequences
    call_command("demo", dossiers=50, quiet=True, seed=7)
    assert Dossier.objects.count() == 450
    assert Dossier.objects.values("code").distinct().count() == 450
