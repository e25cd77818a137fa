"""The business clock: real time by default, a set instant inside `at`, scoped to the thread."""

import datetime as dt
import threading

import pytest
from django.utils import timezone

from backroom.kernel import clock

PAST = dt.datetime(2026, 3, 1, 9, 30, tzinfo=dt.UTC)


def test_now_is_real_time_outside_a_block():
    before = timezone.now()
    assert before <= clock.now() <= timezone.now()


def test_at_sets_the_instant_and_restores_it_even_on_error():
    with clock.at(PAST):
        assert clock.now() == PAST
        with clock.at(PAST + dt.timedelta(hours=1)):
            assert clock.now() == PAST + dt.timedelta(hours=1)
        assert clock.now() == PAST
    with pytest.raises(RuntimeError), clock.at(PAST):
        raise RuntimeError
    assert clock.now() != PAST


def test_another_thread_keeps_real_time():
    seen = []
    with clock.at(PAST):
        thread = threading.Thread(target=lambda: seen.append(clock.now()))
        thread.start()
        thread.join()
    assert seen[0] > PAST + dt.timedelta(days=30)


def test_a_naive_instant_is_refused():
    with pytest.raises(ValueError), clock.at(dt.datetime(2026, 3, 1)):
        pass
