from django.urls import path

from entryway.messaging import views

app_name = "messaging"
urlpatterns = [
    path("messages/", views.message_list, name="list"),
    path("messages/new/", views.message_create, name="create"),
    path("messages/new/receivers/", views.receiver_search, name="receivers"),
    path("messages/<int:pk>/", views.message_detail, name="detail"),
    path("messages/<int:pk>/delete/", views.message_delete, name="delete"),
    path("resident/messages/", views.inbox, name="inbox"),
    path("resident/messages/<int:pk>/", views.inbox_detail, name="inbox_detail"),
]
