from django.urls import path

from hcmgov.feedback import views

app_name = "feedback"
urlpatterns = [
    path("danh-gia/<str:code>/", views.rate, name="rate"),
    path("phan-anh-kien-nghi/", views.feedback_new, name="new"),
    path("phan-anh-kien-nghi/tra-cuu/", views.feedback_lookup, name="lookup"),
    path("office/phan-anh/", views.office_list, name="office_list"),
    path("office/phan-anh/<str:code>/", views.office_detail, name="office_detail"),
]
