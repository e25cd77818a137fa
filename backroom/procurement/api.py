"""Procurement API (mounted at /api/v1/procurement/)."""

from ninja import Router

router = Router(tags=["procurement"])
