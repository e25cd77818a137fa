"""Square item-sales import API (mounted at /api/v1/channels/ beside the channels router):
upload an export (multipart), list and read the imports. See docs/channels.md, "Square
item-sales import"."""

import datetime as dt

from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, File, Form, Path, Query, Router, Schema, Status
from ninja.files import UploadedFile
from ninja.pagination import paginate

from backroom.channels import selectors, square_import
from backroom.channels.models import ImportBatch
from backroom.config.api_support import ObjectId, Pagination, errors
from backroom.kernel.exceptions import NotFound, ValidationFailed

router = Router(tags=["channels"])


class RowProblemOut(Schema):
    row: int  # spreadsheet row number (the header is row 1)
    column: str
    message: str


class ImportOut(Schema):
    id: int
    account_id: int
    store_id: int = Field(..., alias="account.site_id")
    file_name: str
    file_sha256: str
    file_size: int
    rows: int
    lines_imported: int
    lines_duplicate: int  # already imported by an earlier file
    orders_created: int
    refunds: int
    failed_messages: int  # refunds kept in the inbox until their sale is imported
    tickets_held_back: int  # tickets with a bad row: imported whole once the file is fixed
    error_count: int
    errors: list[RowProblemOut]
    imported_by_id: int | None
    created_at: dt.datetime


class ImportResultOut(ImportOut):
    already_imported: bool = False


class ImportFilter(Schema):
    store_id: ObjectId | None = None
    account_id: ObjectId | None = None


@router.post(
    "/square/imports", response={200: ImportResultOut, 201: ImportResultOut, **errors(403, 404)}
)
def upload_square_export(
    request: HttpRequest, account_id: Form[ObjectId], file: File[UploadedFile]
) -> Status:
    """Import a Square item-sales export (CSV, multipart `file`, at most 10 MB) into a Square
    account (`channels.operate` at its store). Each ticket becomes a completed order (depleted
    once), Refund rows refunds. 201 with the counts and every refused row (`errors[]`: row,
    column, message); 200 `already_imported: true` when this very file was imported before
    (nothing changes). Lines already imported by an overlapping file are counted in
    `lines_duplicate`. 422 `invalid` when the file is not an item-sales export."""
    account = selectors.get_account(request.user, account_id)
    if file.size is not None and file.size > square_import.MAX_FILE_BYTES:
        raise ValidationFailed({"file": [_("The file is larger than %(size)s MB.") % {"size": 10}]})
    result = square_import.import_item_sales(
        account=account, data=file.read(), file_name=file.name or "", actor=request.user
    )
    batch = result.batch
    batch.already_imported = result.already_imported  # type: ignore[attr-defined]
    return Status(200 if result.already_imported else 201, batch)


@router.get("/square/imports", response={200: list[ImportOut], **errors(404)})
@paginate(Pagination)
def list_square_imports(
    request: HttpRequest, filters: Query[ImportFilter]
) -> QuerySet[ImportBatch]:
    """Imports at the stores the caller may see channel orders of (`channels.view`), newest
    first."""
    return square_import.imports_for(
        request.user, store_id=filters.store_id, account_id=filters.account_id
    )  # type: ignore[no-any-return]


@router.get("/square/imports/{import_id}", response={200: ImportOut, **errors(404)})
def get_square_import(request: HttpRequest, import_id: Path[ObjectId]) -> ImportBatch:
    """One import with its counts and refused rows."""
    batch = square_import.imports_for(request.user).filter(pk=import_id).first()
    if batch is None:
        raise NotFound()
    return batch  # type: ignore[no-any-return]
