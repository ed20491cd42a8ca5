"""Pages of the reporting app: the leaders' dashboards (``/dashboard/``)."""

from django.urls import URLPattern, path

from hcmgov.reporting import views_breakdowns as breakdowns
from hcmgov.reporting import views_breakdowns_export as breakdowns_export
from hcmgov.reporting import views_dashboard as views
from hcmgov.reporting import views_dashboard_export as export

urlpatterns: list[URLPattern] = [
    path("dashboard/", views.targets_page, name="dashboard"),
    path("dashboard/chi-so-766/", views.index_page, name="dashboard_index"),
    path("dashboard/chi-so-766.xlsx", export.index_xlsx, name="dashboard_index_xlsx"),
    path("dashboard/chi-so-766.pdf", export.index_pdf, name="dashboard_index_pdf"),
    path("dashboard/chi-so-766/co-quan/<str:code>/", views.agency_page, name="dashboard_agency"),
    path("dashboard/chi-so-766/co-quan/<str:code>/<str:indicator>/", views.drill_page, name="dashboard_drill"),
    # by administrative unit, by field, the map of units, the register of reporting regimes
    path("dashboard/chi-so-766/don-vi/", breakdowns.unit_index_page, name="dashboard_units"),
    path("dashboard/chi-so-766/don-vi.xlsx", breakdowns_export.units_xlsx, name="dashboard_units_xlsx"),
    path("dashboard/chi-so-766/don-vi.pdf", breakdowns_export.units_pdf, name="dashboard_units_pdf"),
    path(
        "dashboard/chi-so-766/don-vi/<str:code>/<str:indicator>/",
        breakdowns.unit_drill_page,
        name="dashboard_unit_drill",
    ),
    path("dashboard/chi-so-766/linh-vuc/", breakdowns.field_page, name="dashboard_fields"),
    path("dashboard/chi-so-766/linh-vuc.xlsx", breakdowns_export.fields_xlsx, name="dashboard_fields_xlsx"),
    path("dashboard/chi-so-766/linh-vuc.pdf", breakdowns_export.fields_pdf, name="dashboard_fields_pdf"),
    path("dashboard/ban-do/", breakdowns.unit_map_page, name="dashboard_map"),
    path("dashboard/che-do-bao-cao/", breakdowns.regimes_page, name="dashboard_regimes"),
]
