from django.urls import path

from onboarding import oidc, passwords, views

app_name = "onboarding"
urlpatterns = [
    path("organisations/<slug:slug>/people/", views.people, name="people"),
    path("organisations/<slug:slug>/settings/", views.settings_page, name="settings"),
    path("organisations/<slug:slug>/members/", views.members, name="members"),
    path("organisations/<slug:slug>/members/<int:school_id>/remove/", views.member_remove, name="member_remove"),
    path("organisations/<slug:slug>/people/<int:role_id>/role/", views.role_change, name="role_change"),
    path("organisations/<slug:slug>/people/<int:role_id>/remove/", views.role_remove, name="role_remove"),
    path(
        "organisations/<slug:slug>/invitations/<int:invitation_id>/withdraw/",
        views.invitation_revoke,
        name="invitation_revoke",
    ),
    path("password/reset/", passwords.PasswordResetView.as_view(), name="password_reset"),
    path("password/reset/sent/", passwords.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path(
        "password/reset/<uidb64>/<token>/",
        passwords.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path("password/reset/done/", passwords.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
    path("password/change/", passwords.PasswordChangeView.as_view(), name="password_change"),
    path("password/change/done/", passwords.PasswordChangeDoneView.as_view(), name="password_change_done"),
    path("sign-in/callback/", oidc.SignInCallback.as_view(), name="sign_in_callback"),
    path("sign-in/<slug:provider>/", oidc.SignInStart.as_view(), name="sign_in_with"),
    path("invitation/accept/", views.invitation_accept, name="invitation_accept"),
    path("invitation/<str:token>/", views.invitation_link, name="invitation_link"),
]
