import base64
import hashlib
import hmac

import pytest

from backroom.webhooks import signing


def test_sign_matches_an_independent_hmac():
    key = bytes(range(32))
    secret = "whsec_" + base64.b64encode(key).decode()
    message_id = "2f4a7f4e-5b1c-4c4b-9a38-0f2b5f0e9c11"
    timestamp = 1_763_780_000
    body = b'{"type":"org.node.updated","timestamp":"2025-11-22T03:00:00Z","data":{"a":1}}'

    expected_digest = hmac.new(
        key, f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256
    ).digest()
    expected = "v1," + base64.b64encode(expected_digest).decode()

    assert signing.sign(secret, message_id, timestamp, body) == expected
    assert signing.verify(secret, message_id, timestamp, body, expected)
    assert not signing.verify(secret, message_id, timestamp + 1, body, expected)
    assert not signing.verify(secret, message_id, timestamp, body + b" ", expected)


def test_standard_webhooks_reference_vector():
    # The example from the Standard Webhooks reference libraries.
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    header = signing.sign(
        secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, b'{"test": 2432232314}'
    )
    assert header == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_generated_secrets_have_the_prefix_and_enough_random_bytes():
    first, second = signing.generate_secret(), signing.generate_secret()
    assert first != second
    assert first.startswith("whsec_")
    assert len(signing.secret_key(first)) == 32


def test_header_with_two_secrets_carries_both_signatures():
    old, new = signing.generate_secret(), signing.generate_secret()
    header = signing.signature_header([new, old], "id-1", 1700000000, b"{}")
    first, second = header.split(" ")
    assert first == signing.sign(new, "id-1", 1700000000, b"{}")
    assert second == signing.sign(old, "id-1", 1700000000, b"{}")
    assert signing.verify(old, "id-1", 1700000000, b"{}", header)
    assert signing.verify(new, "id-1", 1700000000, b"{}", header)


def test_a_secret_that_is_not_base64_is_refused():
    with pytest.raises(ValueError):
        signing.secret_key("whsec_not base64!")
