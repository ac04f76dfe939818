"""Fixtures for the exchange tests: a manual clock and an exchange with prices."""

from __future__ import annotations

import pytest

from starkperp.exchange import Exchange
from starkperp.exchange.engine import ManualClock
from tests.exchange.helpers import START, new_exchange


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def exchange(clock: ManualClock) -> Exchange:
    return new_exchange(clock)
