import pytest
from django.db import transaction

from backroom.kernel.numbering import next_document_number


@pytest.mark.django_db
def test_numbers_are_per_type_and_store():
    assert next_document_number("PO", "SH001") == "PO-SH001-000001"
    assert next_document_number("PO", "SH001") == "PO-SH001-000002"
    assert next_document_number("PO", "BJ001") == "PO-BJ001-000001"
    assert next_document_number("WO", "SH001") == "WO-SH001-000001"


@pytest.mark.django_db
def test_a_rolled_back_caller_does_not_consume_a_number():
    try:
        with transaction.atomic():
            next_document_number("PO", "SH001")
            raise RuntimeError
    except RuntimeError:
        pass
    assert next_document_number("PO", "SH001") == "PO-SH001-000001"
