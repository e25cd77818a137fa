"""The store's "today" API (mounted at /api/v1/dashboards/): the twin of the today page
(docs/store-today.md)."""

from __future__ import annotations

import dataclasses
from typing import Any

from django.http import HttpRequest
from ninja import Router

from backroom.config.api_support import ObjectId, errors
from backroom.dashboards.permissions import DASHBOARDS_VIEW
from backroom.dashboards.schemas_today import StoreTodayOut
from backroom.dashboards.today import get_today_store, store_today
from backroom.kernel.exceptions import PermissionDenied

router = Router(tags=["dashboards"])


@router.get("/stores/{site_id}/today", response={200: StoreTodayOut, **errors(403, 404)})
def store_today_view(request: HttpRequest, site_id: ObjectId) -> dict[str, Any]:
    """A store's business day so far (`dashboards.view` at the store; not_found for another
    store): sales by local hour against the forecast, deliveries expected, counts due, items
    sold out or low, the caller's approvals about the store and its open alerts. Times are in
    the store's time zone; sections the caller may not see are null."""
    if not request.user.has_scoped_permission(DASHBOARDS_VIEW):  # type: ignore[union-attr]
        raise PermissionDenied()
    site = get_today_store(request.user, site_id)
    data = store_today(request.user, site)
    result = {
        field.name: getattr(data, field.name)
        for field in dataclasses.fields(data)
        if field.name != "site"
    }
    result.update(site_id=site.pk, store_code=site.node.code, store_name=site.node.name)
    return result
