"""Private uploaded files (waste photos, delivery notes, comment attachments): kept under
MEDIA_ROOT (or `<var dir>/media`), never served from a public URL; only the views of their
document stream them, to those who may see it. And the type of an upload, read from its bytes
(never from its name or the browser's claim)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.http import FileResponse
from django.utils.functional import cached_property


class PrivateMediaStorage(FileSystemStorage):
    """Files under MEDIA_ROOT, or `<var dir>/media` when MEDIA_ROOT is not set; no public URL."""

    @cached_property
    def base_location(self) -> Any:
        return getattr(settings, "MEDIA_ROOT", "") or str(settings.VAR_DIR / "media")


private_storage = PrivateMediaStorage(base_url=None)


def image_type(head: bytes) -> str | None:
    """The image type named by a file's first bytes (JPEG, PNG, WebP, HEIC), else None."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[4:8] == b"ftyp" and head[8:12] in {b"heic", b"heix", b"mif1", b"msf1", b"hevc"}:
        return "image/heic"
    return None


def document_type(head: bytes) -> str | None:
    """An image type (see `image_type`) or PDF, else None."""
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    return image_type(head)


def uploaded_image_type(upload: Any) -> str | None:
    """The image type of an upload, read from its first bytes (left at the start again)."""
    upload.seek(0)
    head = upload.read(16)
    upload.seek(0)
    return image_type(head)


def private_file_response(file: Any, *, content_type: str, filename: str = "") -> FileResponse:
    """Stream a private file (after the caller's read check): its checked type, never sniffed
    by the browser, never kept by a shared cache; shown inline under `filename`."""
    response = FileResponse(file.open("rb"), content_type=content_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, max-age=3600"
    if filename:
        response["Content-Disposition"] = f'inline; filename="{filename}"'
    return response
