"""The data sharing platform's gateway (``/x/{member}/{system}/{service}/...``): an ASGI process of
its own (``hcmgov.exchange.gateway.asgi:application``), so that a slow provider holds no thread."""
