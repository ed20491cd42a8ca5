"""Pages of the reporting app: the officials' reports (list, a report, its review)."""

from django.urls import path

from hcmgov.reporting import views_reports

app_name = "reports"  # the dashboard has its own namespace (urls_dashboard)
REPORT = "office/bao-cao/<str:template>/<str:period>/<str:unit>/"
urlpatterns = [
    path("office/bao-cao/", views_reports.report_list, name="list"),
    path(REPORT, views_reports.report_detail, name="report"),
    path(REPORT + "xem-xet/", views_reports.report_review, name="review"),
]
