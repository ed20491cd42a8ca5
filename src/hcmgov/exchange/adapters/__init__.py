"""Outside systems as the exchange app sees them: the subscribers' callbacks (``subscriber``)."""
