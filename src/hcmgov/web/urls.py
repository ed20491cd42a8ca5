from django.urls import path

from hcmgov.web import views

app_name = "web"
urlpatterns = [
    path("", views.home, name="home"),
    path("thu-tuc/<str:code>/", views.procedure_detail, name="procedure"),
    path("thu-tuc/<str:code>/nop-ho-so/", views.dossier_new, name="dossier_new"),
    path("ho-so/", views.my_dossiers, name="my_dossiers"),
    path("ho-so/<str:code>/", views.dossier_detail, name="dossier"),
    path("ho-so/<str:code>/phieu-hen.pdf", views.receipt_pdf, name="receipt_pdf"),
    path("ho-so/<str:code>/phieu-tu-choi.pdf", views.refusal_pdf, name="refusal_pdf"),
    path("tra-cuu/", views.track, name="track"),
    path("dang-nhap/", views.LoginView.as_view(), name="login"),
    path("dang-xuat/", views.logout_view, name="logout"),
    path("office/", views.office_queue, name="office"),
    path("office/ho-so/<str:code>/", views.office_dossier, name="office_dossier"),
]
