"""A file for the browser to save (see backroom.web.exports)."""

from backroom.web.exports import XLSX, download

__all__ = ["XLSX", "download"]
