"""The NGSI-LD context broker's entities and subscriptions (issue 11)."""
