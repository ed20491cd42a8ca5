"""Adapters of the postal app: one module per outside system (``vnpost``: the carrier's API)."""
