"""What ``hcmgov check --deploy`` asks of a production process beyond Django's own checks
(docs/security/asvs.md). The development secret key over HTTPS is refused earlier, by the settings
module itself: a process must not even start with it."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core import checks


@checks.register(checks.Tags.security, deploy=True)
def check_metrics_token(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """ASVS 13.4.5: over HTTPS the metrics (request counts by route, queue depths) are for the
    monitoring system only."""
    if settings.SECURE_SSL_REDIRECT and not getattr(settings, "METRICS_TOKEN", ""):
        return [
            checks.Warning(
                "/metrics is open to anyone who reaches the web and gateway nodes",
                hint="Set HCMGOV_METRICS_TOKEN and give it to Prometheus (authorization: credentials), or refuse "
                "/metrics at the proxy.",
                id="hcmgov.W120",
            )
        ]
    return []
