"""Order anomaly API (mounted at /api/v1/channels/ beside the channels router): alerts at the
stores the caller may see, and a manager's resolution with a note. See docs/channels.md,
"Anomalies"."""

import datetime as dt
from typing import Any, Literal

from django.db.models import QuerySet
from django.http import HttpRequest
from ninja import Field, Path, Query, Router, Schema
from ninja.pagination import paginate

from backroom.channels import anomalies
from backroom.channels.models import AnomalyResolution, AnomalyRule, AnomalySeverity, OrderAnomaly
from backroom.config.api_support import ObjectId, Pagination, errors, text
from backroom.org.selectors import get_site

router = Router(tags=["channels"])


class AnomalyOut(Schema):
    id: int
    order_id: int
    store_id: int = Field(..., alias="site_id")
    external_id: str = Field(..., alias="order.external_id")
    display_id: str = Field(..., alias="order.display_id")
    order_status: str = Field(..., alias="order.status")
    rule: AnomalyRule
    severity: AnomalySeverity
    message: str  # in the caller's language
    details: dict[str, Any]
    related_order_id: int | None
    detected_at: dt.datetime
    resolved_at: dt.datetime | None
    resolution: AnomalyResolution | Literal[""]
    resolved_by: str | None
    resolution_note: str

    @staticmethod
    def resolve_message(anomaly: OrderAnomaly) -> str:
        return anomalies.message_of(anomaly)

    @staticmethod
    def resolve_resolved_by(anomaly: OrderAnomaly) -> str | None:
        return anomaly.resolved_by.username if anomaly.resolved_by else None


class AnomalyFilter(Schema):
    store_id: ObjectId | None = None
    rule: AnomalyRule | None = None
    state: Literal["open", "resolved", "all"] = "open"


class AnomalyResolveIn(Schema):
    note: str = text(min_length=1, max_length=500)


@router.get("/anomalies", response={200: list[AnomalyOut], **errors(404)})
@paginate(Pagination)
def list_anomalies(request: HttpRequest, filters: Query[AnomalyFilter]) -> QuerySet[OrderAnomaly]:
    """Order alerts at the stores the caller may see channel orders of (channels.view), newest
    first; `state` open (default), resolved or all; `rule` and `store_id` narrow them."""
    site = get_site(request.user, filters.store_id) if filters.store_id is not None else None
    return anomalies.anomalies_for(request.user, site=site, rule=filters.rule, state=filters.state)


@router.post("/anomalies/{anomaly_id}/resolve", response={200: AnomalyOut, **errors(403, 404, 409)})
def resolve(
    request: HttpRequest, anomaly_id: Path[ObjectId], payload: AnomalyResolveIn
) -> OrderAnomaly:
    """Resolve an alert with a note of what was done (channels.manage at its store; audited).
    409 `anomaly_resolved` when it is resolved already; the same condition does not re-open it."""
    anomaly = anomalies.get_anomaly(request.user, anomaly_id)
    anomalies.resolve_anomaly(anomaly, note=payload.note, actor=request.user)
    return anomalies.get_anomaly(request.user, anomaly_id)
