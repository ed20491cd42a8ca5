"""Django's admin app with the platform's admin site (``hcmgov.common.admin_site``). A module of
its own: an app config is imported before the models are ready."""

from django.contrib.admin.apps import AdminConfig as DjangoAdminConfig


class AdminConfig(DjangoAdminConfig):
    default_site = "hcmgov.common.admin_site.AdminSite"
