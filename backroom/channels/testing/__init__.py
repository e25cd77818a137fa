"""Test helpers for the channels app: fake delivery platforms (`fakes`)."""
