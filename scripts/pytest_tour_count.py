"""pytest plugin of `make test`: each test that ran browser tours says how many in the JUnit report.

Odoo's ``HttpCase.start_tour`` is counted while a test runs (a tour counts once it succeeded) and
the number is written as the test's ``browser_tours`` property, which scripts/test_summary.py
reads: the summary counts the tours that really ran, whatever test class or file holds them.
"""
import sys

import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    common = sys.modules.get("odoo.tests.common")
    if common is None:  # a pure test: no Odoo test case in this process yet
        yield
        return
    http_case = common.HttpCase
    original = http_case.start_tour
    tours = []

    def start_tour(self, *args, **kwargs):
        result = original(self, *args, **kwargs)
        tours.append(args[1] if len(args) > 1 else kwargs.get("tour_name"))
        return result

    http_case.start_tour = start_tour
    try:
        yield
    finally:
        http_case.start_tour = original
        if tours:
            item.user_properties.append(("browser_tours", len(tours)))
