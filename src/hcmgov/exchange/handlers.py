"""Platform events published on the exchange's channels: outbox topics that a channel lists become
CloudEvents deliveries to its subscribers (``exchange.events``)."""
