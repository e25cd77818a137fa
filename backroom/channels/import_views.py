"""Square item-sales import pages: upload an export (store managers and staff with
`channels.operate`), and each import's counts and refused rows.

Thin views: read the upload, call `square_import.import_item_sales`, redirect to the result.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils.translation import gettext as _

from backroom.channels import selectors, square_import
from backroom.channels.choices import ChannelKind
from backroom.channels.permissions import CHANNELS_OPERATE, CHANNELS_VIEW
from backroom.kernel.exceptions import DomainError, NotFound, ValidationFailed
from backroom.web.errors import page
from backroom.web.forms import posted_id
from backroom.web.rendering import render_page

RECENT = 20


@page(CHANNELS_OPERATE)
def square_import_page(request: HttpRequest) -> HttpResponse:
    """The upload form (Square accounts the user may import into) and the recent imports."""
    accounts = list(
        selectors.accounts_for(request.user, CHANNELS_OPERATE).filter(
            kind=ChannelKind.SQUARE, is_active=True
        )
    )
    problems: list[str] = []
    status = 200
    if request.method == "POST":
        account = selectors.get_account(request.user, posted_id(request.POST.get("account")) or 0)
        upload = request.FILES.get("file")
        if upload is None:
            problems.append(_("Choose the exported CSV file."))
        elif upload.size is not None and upload.size > square_import.MAX_FILE_BYTES:
            problems.append(_("The file is larger than %(size)s MB.") % {"size": 10})
        else:
            try:
                result = square_import.import_item_sales(
                    account=account,
                    data=upload.read(),
                    file_name=upload.name or "",
                    actor=request.user,
                )
            except ValidationFailed as error:
                problems.extend(
                    [error.message]
                    + [message for messages_ in error.errors.values() for message in messages_]
                )
            except DomainError as error:
                if error.http_status in (403, 404):
                    raise
                problems.append(error.message)
            else:
                batch = result.batch
                if result.already_imported:
                    messages.info(
                        request,
                        _("This file was already imported on %(when)s: nothing changed.")
                        % {"when": batch.created_at.strftime("%Y-%m-%d %H:%M")},
                    )
                else:
                    messages.success(
                        request,
                        _("%(file)s imported: %(orders)s orders, %(lines)s new lines.")
                        % {
                            "file": batch.file_name,
                            "orders": batch.orders_created,
                            "lines": batch.lines_imported,
                        },
                    )
                return redirect(reverse("channels:square_import_detail", args=[batch.pk]))
        status = 422
    return render_page(
        request,
        "channels/square_import.html",
        {
            "title": _("Import Square sales"),
            "accounts": accounts,
            "imports": list(square_import.imports_for(request.user)[:RECENT]),
            "problems": problems,
            "max_mb": square_import.MAX_FILE_BYTES >> 20,
        },
        status=status,
    )


@page(CHANNELS_VIEW)
def square_import_detail(request: HttpRequest, import_id: int) -> HttpResponse:
    """One import: its counts and every refused row with its row number."""
    batch = (
        square_import.imports_for(request.user)
        .select_related("imported_by")
        .filter(pk=import_id)
        .first()
    )
    if batch is None:
        raise NotFound()
    return render_page(
        request,
        "channels/square_import_detail.html",
        {"title": _("Square import"), "batch": batch},
    )


urlpatterns = [
    path("square/import/", square_import_page, name="square_import"),
    path("square/imports/<int:import_id>/", square_import_detail, name="square_import_detail"),
]
