"""Planning API (mounted at /api/v1/planning/)."""

from ninja import Router

router = Router(tags=["planning"])
