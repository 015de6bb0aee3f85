"""Fixtures shared by the whole suite live in tests/fixtures/; this file only registers them."""

import logging

pytest_plugins = [
    "tests.fixtures.databases",
    "tests.fixtures.broker",
    "tests.fixtures.server",
]


def pytest_unconfigure(config):
    """After the suite, a kafka-python client whose construction failed during a fault test keeps
    a thread that retries a broker the fixtures have stopped (kafka-python leaves it behind); its
    lines after pytest's summary say nothing about the run."""
    logging.getLogger("kafka").disabled = True
