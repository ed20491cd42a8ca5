"""/api/v1/reporting: the reporting information system's API (issue 10)."""

from ninja import Router

from hcmgov.common.apiauth import AUTH

router = Router(tags=["reporting"], auth=AUTH)
