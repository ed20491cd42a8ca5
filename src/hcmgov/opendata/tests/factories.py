"""Catalogue objects for tests, built through the app's services like a publisher would."""

from __future__ import annotations

import itertools
from typing import Any

from hcmgov.opendata import services

_n = itertools.count(1)


def organization(name: str = "", **kw: Any) -> Any:
    n = next(_n)
    return services.organization_upsert(
        name=name or f"so-thu-{n}", title=kw.pop("title", f"Sở thử {n}"), title_en=kw.pop("title_en", f"Test {n}"), **kw
    )


def group(name: str = "", **kw: Any) -> Any:
    n = next(_n)
    return services.group_upsert(name=name or f"chu-de-{n}", title=kw.pop("title", f"Chủ đề {n}"), **kw)


def dataset(org: Any = None, **data: Any) -> Any:
    n = next(_n)
    org = org or organization()
    base: dict[str, Any] = {
        "name": f"du-lieu-{n}",
        "title": f"Bộ dữ liệu thử {n}",
        "notes": "Số liệu thử nghiệm.",
        "license_id": "cc-by",
        "tags": [{"name": "thử nghiệm"}],
        "resources": [{"name": "Bảng số liệu", "format": "CSV", "url": f"https://example.vn/{n}.csv"}],
    }
    base.update(data)
    return services.dataset_upsert(data=base, organization=org)
