"""Pages of the reporting app: the leaders' dashboards (``/dashboard/``)."""

from django.urls import URLPattern, path

from hcmgov.reporting import views_dashboard as views
from hcmgov.reporting import views_dashboard_export as export

urlpatterns: list[URLPattern] = [
    path("dashboard/", views.targets_page, name="dashboard"),
    path("dashboard/chi-so-766/", views.index_page, name="dashboard_index"),
    path("dashboard/chi-so-766.xlsx", export.index_xlsx, name="dashboard_index_xlsx"),
    path("dashboard/chi-so-766.pdf", export.index_pdf, name="dashboard_index_pdf"),
    path("dashboard/chi-so-766/co-quan/<str:code>/", views.agency_page, name="dashboard_agency"),
    path("dashboard/chi-so-766/co-quan/<str:code>/<str:indicator>/", views.drill_page, name="dashboard_drill"),
]
