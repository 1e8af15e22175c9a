from django.urls import path

from entryway.api.api import api

urlpatterns = [path("", api.urls)]
