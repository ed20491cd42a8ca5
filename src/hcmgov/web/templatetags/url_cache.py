"""Django's ``{% url %}`` with the address of a view that takes no arguments worked out once per
process (a builtin: settings ``TEMPLATES[...]["OPTIONS"]["builtins"]`` puts it after Django's own,
so every template's ``{% url %}`` is this one).

Each page's header and footer name the same dozen views; reversing one (``django.urls.reverse``:
the resolver's lookup, the pattern's substitution, quoting) cost about 0.2 ms, a tenth of the
public tracking page's time. An address is fixed by the view's name, the script prefix, the URL
configuration and the page's namespace (Django's tag reverses for it): they are the cache's key.
``{% url %}`` with arguments, or ``as`` a variable, is Django's unchanged. The addresses are
forgotten when a test changes the URL configuration."""

from __future__ import annotations

import functools
from typing import Any

from django import template
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.template import defaulttags
from django.urls import get_script_prefix, get_urlconf, reverse
from django.utils.html import conditional_escape

register = template.Library()


@functools.lru_cache(maxsize=1024)
def view_url(name: str, prefix: str, urlconf: Any, current_app: str | None) -> str:
    """The address of the view ``name`` (no arguments) under ``prefix`` and ``urlconf``, as
    Django's tag reverses it for a page of ``current_app``."""
    return reverse(name, urlconf=urlconf, current_app=current_app)


class URLNode(defaulttags.URLNode):
    def render(self, context: template.Context) -> str:
        name = self.view_name
        if self.args or self.kwargs or self.asvar or name.filters or not isinstance(name.var, str):
            return str(super().render(context))
        request = context.get("request")
        current_app = getattr(request, "current_app", None)
        if current_app is None:  # as Django's tag: the page's own namespace
            current_app = getattr(getattr(request, "resolver_match", None), "namespace", None)
        url = view_url(name.var, get_script_prefix(), get_urlconf(), current_app)
        return str(conditional_escape(url)) if context.autoescape else url


@register.tag
def url(parser: template.base.Parser, token: template.base.Token) -> template.Node:
    node = defaulttags.url(parser, token)
    node.__class__ = URLNode  # the same parsing, this rendering
    return node


@receiver(setting_changed)
def _forget(*, setting: str, **kwargs: Any) -> None:
    if setting in {"ROOT_URLCONF", "FORCE_SCRIPT_NAME", "INSTALLED_APPS"}:
        view_url.cache_clear()
