"""Shell pages: sign-in, sign-out, home."""

from typing import Any

from django.conf import settings
from django.contrib.auth import login, logout
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from backroom.accounts import permissions
from backroom.accounts.selectors import users_for
from backroom.accounts.services import sign_in
from backroom.dashboards.today import today_stores
from backroom.kernel.exceptions import DomainError
from backroom.org.choices import SITE_KINDS, NodeKind, SiteStatus
from backroom.org.selectors import nodes_for, sites_for
from backroom.web.presenters import group_by_parent, store_clock
from backroom.web.rendering import render_page


@require_http_methods(["GET", "POST"])
def login_view(request: HttpRequest) -> HttpResponse:
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        next_url = ""
    context: dict[str, Any] = {"next": next_url, "username": "", "title": _("Sign in")}
    if request.method == "POST":
        username = request.POST.get("username", "")
        context["username"] = username
        try:
            user = sign_in(request, username, request.POST.get("password", ""))
        except DomainError as error:
            context["error"] = error.message
            return render_page(request, "web/login.html", context, status=200)
        login(request, user)
        response = redirect(next_url or "web:home")
        if user.language in dict(settings.LANGUAGES):
            # The user's chosen language wins over the browser's until they switch.
            response.set_cookie(
                settings.LANGUAGE_COOKIE_NAME,
                user.language,
                max_age=settings.LANGUAGE_COOKIE_AGE,
                samesite="Lax",
                secure=settings.SESSION_COOKIE_SECURE,
            )
        return response
    if request.user.is_authenticated:
        return redirect("web:home")
    return render_page(request, "web/login.html", context)


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    return redirect("web:login")


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """HQ and region roles see the chain; store roles see their own store(s) and its clock."""
    user = request.user
    sites = list(sites_for(user))
    stores = [s for s in sites if s.node.kind == NodeKind.STORE]
    is_chain_view = nodes_for(user).exclude(kind__in=SITE_KINDS).exists()
    context: dict[str, Any] = {
        "title": _("Home"),
        "is_chain_view": is_chain_view,
        "sites": sites,
        "stores": stores,
        "can_see_users": user.has_scoped_permission(permissions.ACCOUNTS_VIEW),  # type: ignore[union-attr]
        "can_see_audit": user.has_scoped_permission(permissions.AUDIT_VIEW),  # type: ignore[union-attr]
    }
    if is_chain_view:
        context["store_groups"] = group_by_parent(stores)
        context["other_sites"] = [s for s in sites if s.node.kind != NodeKind.STORE]
        context["stores_open"] = sum(1 for s in stores if s.status == SiteStatus.OPEN)
        if context["can_see_users"]:
            context["user_count"] = users_for(user).count()
    else:
        now = timezone.now()
        context["clocks"] = [store_clock(site, now) for site in sites]
        # A store card links to the store's "today" page when the user may see it.
        context["today_site_ids"] = {site.pk for site in today_stores(user)}
    return render_page(request, "web/home.html", context)
