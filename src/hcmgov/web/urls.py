from django.urls import path

from hcmgov.web import applicant, office, views

app_name = "web"
urlpatterns = [
    path("", views.home, name="home"),
    path("thu-tuc/<str:code>/", views.procedure_detail, name="procedure"),
    path("thu-tuc/<str:code>/nop-ho-so/", views.dossier_new, name="dossier_new"),
    path("ho-so/", views.my_dossiers, name="my_dossiers"),
    path("ho-so/<str:code>/", views.dossier_detail, name="dossier"),
    path("ho-so/<str:code>/phieu-hen.pdf", views.receipt_pdf, name="receipt_pdf"),
    path("ho-so/<str:code>/phieu-tu-choi.pdf", views.refusal_pdf, name="refusal_pdf"),
    path("ho-so/<str:code>/bo-sung/", applicant.supplement, name="dossier_supplement"),
    path("ho-so/<str:code>/rut/", applicant.withdraw, name="dossier_withdraw"),
    path("ho-so/<str:code>/phieu-bo-sung-<int:number>.pdf", applicant.supplement_pdf, name="supplement_pdf"),
    path("ho-so/<str:code>/phieu-xin-loi-<int:number>.pdf", applicant.apology_pdf, name="apology_pdf"),
    path("tra-cuu/", views.track, name="track"),
    path("dang-nhap/", views.LoginView.as_view(), name="login"),
    path("dang-xuat/", views.logout_view, name="logout"),
    path("office/", office.queues, name="office"),
    path("office/tim-kiem/", office.search, name="office_search"),
    path("office/don-vi/", office.unit, name="office_unit"),
    path("office/so-theo-doi.pdf", office.log_book_pdf, name="office_log_book"),
    path("office/ho-so/<str:code>/", office.dossier, name="office_dossier"),
    path("office/ho-so/<str:code>/phieu-kiem-soat.pdf", office.control_sheet_pdf, name="office_control_sheet"),
    path("office/quy-trinh/<str:code>/", office.flows, name="office_flows"),
]
