"""Periodic reports: indicators, templates, periods, units' reports and their history."""
