from django.urls import path

from entryway.residents import views

app_name = "residents"
urlpatterns = [
    path("", views.resident_list, name="list"),
    path("new/", views.resident_create, name="create"),
    path("<int:pk>/edit/", views.resident_edit, name="edit"),
    path("<int:pk>/delete/", views.resident_delete, name="delete"),
    path("<int:pk>/reset-password/", views.resident_reset_password, name="reset_password"),
    path("<int:pk>/family/", views.family_list, name="family_list"),
    path("<int:pk>/family/new/", views.family_create, name="family_create"),
    path("<int:pk>/family/<int:member_pk>/edit/", views.family_edit, name="family_edit"),
    path("<int:pk>/family/<int:member_pk>/delete/", views.family_delete, name="family_delete"),
]
