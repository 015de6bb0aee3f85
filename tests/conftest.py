"""Fixtures shared by the whole suite live in tests/fixtures/; this file only registers them."""

pytest_plugins = [
    "tests.fixtures.databases",
    "tests.fixtures.broker",
    "tests.fixtures.server",
]
