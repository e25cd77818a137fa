from django.urls import path

from backroom.web.views import audit, org, shell, tokens, users

app_name = "web"
urlpatterns = [
    path("", shell.home, name="home"),
    path("login/", shell.login_view, name="login"),
    path("logout/", shell.logout_view, name="logout"),
    path("org/", org.org_tree, name="org_tree"),
    path("org/new/", org.node_create, name="node_create"),
    path("org/sites/<int:site_id>/", org.site_detail, name="site_detail"),
    path("users/", users.user_list, name="users"),
    path("users/new/", users.user_create, name="user_create"),
    path("users/<int:user_id>/", users.user_detail, name="user_detail"),
    path("users/<int:user_id>/grant/", users.user_grant, name="user_grant"),
    path("users/<int:user_id>/password/", users.user_password, name="user_password"),
    path(
        "memberships/<int:membership_id>/revoke/",
        users.membership_revoke,
        name="membership_revoke",
    ),
    path("roles/", users.role_list, name="roles"),
    path("audit/", audit.audit_list, name="audit"),
    path("audit/<int:entry_id>/", audit.audit_detail, name="audit_detail"),
    path("tokens/", tokens.token_list, name="tokens"),
    path("tokens/<int:token_id>/revoke/", tokens.token_revoke, name="token_revoke"),
]
