"""Backroom: back-of-house operations for multi-store chains."""
