import time
import uuid

from hypothesis import given, settings
from hypothesis import strategies as st

from backroom.kernel.ids import uuid7


def test_a_uuid7_carries_its_version_variant_and_the_millisecond_it_was_made():
    before = time.time_ns() // 1_000_000
    made = uuid7()
    after = time.time_ns() // 1_000_000
    assert made.version == 7
    assert made.variant == uuid.RFC_4122
    assert before <= made.int >> 80 <= after
    assert uuid.UUID(str(made)) == made


def test_later_ids_sort_after_earlier_ones_and_never_repeat():
    ids = []
    for _ in range(5):
        ids.extend(uuid7() for _ in range(200))
        time.sleep(0.002)
    assert len(set(ids)) == len(ids)
    # Ordered by their millisecond (random within one).
    assert [made.int >> 80 for made in ids] == sorted(made.int >> 80 for made in ids)
    assert ids[0] < ids[-1]


@settings(max_examples=50)
@given(st.integers(min_value=0, max_value=(1 << 128) - 1))
def test_the_random_bits_never_touch_the_version_or_variant(noise):
    from unittest import mock

    with mock.patch("backroom.kernel.ids.os.urandom", return_value=noise.to_bytes(16)[:10]):
        made = uuid7()
    assert (made.version, made.variant) == (7, uuid.RFC_4122)
