"""Planning models."""
