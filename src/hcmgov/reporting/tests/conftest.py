"""The demo template over the real city's units (loaded once per test database)."""

from __future__ import annotations

import pytest

from hcmgov.reporting import demo


@pytest.fixture
def template(city):
    return demo.demo_template_load()
