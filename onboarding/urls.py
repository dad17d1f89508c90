from django.urls import path

from onboarding import views

app_name = "onboarding"
urlpatterns = [
    path("organisations/<slug:slug>/people/", views.people, name="people"),
    path("organisations/<slug:slug>/people/<int:role_id>/role/", views.role_change, name="role_change"),
    path("organisations/<slug:slug>/people/<int:role_id>/remove/", views.role_remove, name="role_remove"),
    path(
        "organisations/<slug:slug>/invitations/<int:invitation_id>/withdraw/",
        views.invitation_revoke,
        name="invitation_revoke",
    ),
    path("invitation/accept/", views.invitation_accept, name="invitation_accept"),
    path("invitation/<str:token>/", views.invitation_link, name="invitation_link"),
]
