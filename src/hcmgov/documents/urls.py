"""The documents app's pages for officials: the certification book and the desk's digitisation.
Mounted at the root by ``hcmgov.urls`` (``path("", include("hcmgov.documents.urls"))``)."""

from django.urls import path

from hcmgov.documents import views

app_name = "documents"
urlpatterns = [
    path("office/chung-thuc/", views.certification_list, name="certification_list"),
    path("office/chung-thuc/moi/", views.certification_new, name="certification_new"),
    path("office/chung-thuc/<int:pk>/", views.certification_detail, name="certification"),
    path("office/chung-thuc/<int:pk>/ban-sao.pdf", views.certification_pdf, name="certification_pdf"),
    path("office/so-hoa/ho-so/<str:code>/", views.desk_dossier, name="desk_dossier"),
]
