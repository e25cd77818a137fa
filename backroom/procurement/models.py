"""Procurement models."""
