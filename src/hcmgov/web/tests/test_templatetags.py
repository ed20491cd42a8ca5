"""``{% t %}`` and ``{% static %}`` render as before their compile-time shortcuts."""

from __future__ import annotations

import pytest
from django.template import Context, Template, TemplateSyntaxError, engines
from django.templatetags.static import static as django_static
from django.utils import translation


def render(source: str, **values: object) -> str:
    return engines["django"].from_string(source).render(values)


@pytest.mark.parametrize(("language", "expected"), [("vi", "Tra cứu"), ("en", "Look up")])
def test_t_picks_the_active_language(language, expected):
    with translation.override(language):
        assert render('{% load bilingual %}{% t "Tra cứu" "Look up" %}') == expected


def test_t_escapes_variables_not_the_template_own_text():
    source = '{% load bilingual %}{% t "<b>đậm</b>" label %}|{% t label "<i>x</i>" %}'
    with translation.override("vi"):
        assert render(source, label="<script>") == "<b>đậm</b>|&lt;script&gt;"
    with translation.override("en"):
        assert render(source, label="<script>") == "&lt;script&gt;|<i>x</i>"
        off = Template("{% load bilingual %}{% autoescape off %}{% t 'a' label %}{% endautoescape %}")
        assert off.render(Context({"label": "<script>"})) == "<script>"


def test_t_as_a_variable_and_its_errors():
    with translation.override("en"):
        assert render('{% load bilingual %}{% t "Mã" "Code" as word %}[{{ word }}]') == "[Code]"
        assert render('{% load bilingual %}{% t "Mã" name as word %}{{ word }}', name="<n>") == "&lt;n&gt;"
    with pytest.raises(TemplateSyntaxError):
        render('{% load bilingual %}{% t "only one" %}')


def test_static_gives_django_address_and_follows_setting_changes(settings):
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    source = "{% load static %}{% static 'web/site.css' %}|{% get_static_prefix %}|{% static 'a b.css' as x %}{{ x }}"
    assert render(source) == f"{django_static('web/site.css')}|/static/|{django_static('a b.css')}"
    settings.STATIC_URL = "/tinh/"
    assert render("{% load static %}{% static 'web/site.css' %}") == "/tinh/web/site.css"


def test_url_gives_django_address_and_follows_the_script_prefix():
    from django.urls import reverse

    assert render("{% url 'web:track' %}") == reverse("web:track")
    # with arguments, or as a variable: Django's own tag
    assert render("{% url 'web:track' as u %}[{{ u }}]") == f"[{reverse('web:track')}]"
    name = "web:home"
    assert render("{% url name %}", name=name) == reverse(name)
    from django.urls import set_script_prefix

    # the prefix (FORCE_SCRIPT_NAME, or the server's SCRIPT_NAME per request) is the cache's key

    set_script_prefix("/portal/")
    try:
        assert render("{% url 'web:track' %}") == "/portal/tra-cuu/" == reverse("web:track")
    finally:
        set_script_prefix("/")
    assert render("{% url 'web:track' %}") == "/tra-cuu/"


@pytest.mark.parametrize(("language", "label"), [("vi", "Đã xử lý xong"), ("en", "Processing finished")])
def test_dossier_status_badge_in_the_active_language(language, label):
    from hcmgov.dossiers.models import Status

    with translation.override(language):
        badge = render("{% load bilingual %}{{ s|dossier_status }}", s=Status.FINISHED)
    assert badge == f'<span class="status s9">{label}</span>'
    assert render("{% load bilingual %}{{ s|dossier_status }}", s="x") == ""


def test_times_as_the_date_filter_wrote_them():
    import datetime as dt

    at = dt.datetime(2026, 11, 28, 9, 5, 7, 123, tzinfo=dt.UTC)
    mine = render("{% load bilingual %}{{ at|isotime }}|{{ at|dmy_hm }}", at=at)
    django = render("{{ at|date:'c' }}|{{ at|date:'d/m/Y H:i' }}", at=at)
    assert mine == django == "2026-11-28T16:05:07.000123+07:00|28/11/2026 16:05"
