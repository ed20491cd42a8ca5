"""The gateway's ASGI entry point, served by granian as its own process:

    granian --interface asgi --workers N hcmgov.exchange.gateway.asgi:application

(``make serve`` starts it on port 8001 beside the web process; at city scale it runs on nodes of
its own behind the load balancer, which sends ``/x/`` there.)"""

from __future__ import annotations

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hcmgov.settings")
django.setup()

from hcmgov.exchange.gateway.app import Gateway  # noqa: E402

application = Gateway()
