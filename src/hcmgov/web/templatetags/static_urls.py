"""Django's ``static`` tag library, with each file's address worked out once per process.

Registered under the label ``static`` (settings ``TEMPLATES[...]["OPTIONS"]["libraries"]``), so
``{% load static %}`` loads this one. With the manifest storage an address is a lookup in the
manifest, which is read when the process starts and fixed until it restarts (a new
``collectstatic`` needs a restart anyway); yet working it out (``storage.url``: manifest lookup,
URL quoting and joining) costs each page some tens of microseconds per stylesheet or icon. The
addresses are forgotten when a test changes the static settings."""

from __future__ import annotations

import functools
from typing import Any

from django import template
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.templatetags import static as django_static

register = template.Library()
register.tags.update(django_static.register.tags)
register.filters.update(django_static.register.filters)

STATIC_SETTINGS = {"DEBUG", "STATIC_URL", "STATIC_ROOT", "STORAGES", "STATICFILES_DIRS", "INSTALLED_APPS"}


@functools.lru_cache(maxsize=4096)
def static_url(path: str) -> str:
    return str(django_static.StaticNode.handle_simple(path))


class StaticNode(django_static.StaticNode):
    @classmethod
    def handle_simple(cls, path: Any) -> str:
        return static_url(path) if isinstance(path, str) else str(django_static.StaticNode.handle_simple(path))


register.tag("static", StaticNode.handle_token)


def static(path: str) -> str:
    """Like ``django.templatetags.static.static``."""
    return static_url(path)


@receiver(setting_changed)
def _forget(*, setting: str, **kwargs: Any) -> None:
    if setting in STATIC_SETTINGS:
        static_url.cache_clear()
