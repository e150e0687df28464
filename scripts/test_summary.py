"""The closing lines of `make test`, from pytest's JUnit report: what ran, per kind.

usage: test_summary.py REPORT PYTEST_STATUS [NARROWED]. Exits non-zero when pytest failed, when
no test ran (pytest's status 5 included), when a browser tour was skipped (Odoo skips them when
the browser or its Python client is missing), or, on a whole run (NARROWED empty or 0), when no
Odoo test or no tour ran. Other skips are listed with their reasons (pytest's -rs) and counted.
"""

import re
import sys
import xml.etree.ElementTree as ET

# a test that calls start_tour: skipped, it is a skipped tour (its name says so, by convention)
TOUR_NAME = re.compile(r"\.test_\w*tour", re.IGNORECASE)
# the reasons Odoo's HttpCase gives when it skips a browser test (no Chrome, no websocket-client,
# no devtools connection): a tour of any test class skipped for one of them fails the run
BROWSER_SKIP = re.compile(r"websocket|chrome|devtools", re.IGNORECASE)


def main(report, status, narrowed=False):
    try:
        cases = list(ET.parse(report).iter("testcase"))
    except (OSError, ET.ParseError):
        cases = []
    counts = {"odoo tests": 0, "browser tours": 0, "pure tests": 0}
    skipped, failed, ran = [], 0, 0
    for case in cases:
        name = f"{case.get('classname')}.{case.get('name')}"
        skip = case.find("skipped")
        if skip is not None:
            skipped.append(f"{name}: {skip.get('message', '')}")
            continue
        failed += case.find("failure") is not None or case.find("error") is not None
        ran += 1
        # scripts/pytest_tour_count.py: how many browser tours the test ran (a test with tours
        # counts as its tours, not as an Odoo test)
        tours = sum(int(prop.get("value", 0)) for prop in case.iter("property") if prop.get("name") == "browser_tours")
        kind = "browser tours" if tours else "odoo tests" if name.startswith("tests.") else "pure tests"
        counts[kind] += tours or 1
    print("; ".join(f"{kind}: {n} run" for kind, n in counts.items()) + f"; skipped: {len(skipped)}")
    problems = [f"browser tour SKIPPED: {line}" for line in skipped
                if TOUR_NAME.search(line.split(": ", 1)[0]) or BROWSER_SKIP.search(line.split(": ", 1)[-1])]
    if not ran:
        problems.append("no test ran")
    for kind in ("odoo tests", "browser tours"):
        if not narrowed and not counts[kind]:
            problems.append(f"no {kind} ran")
    if status not in (0, 5):
        problems.append(f"pytest exited with status {status}")
    for problem in problems:
        print(f"make test FAILED: {problem}")
    # the plain closing line CI reads
    print(f"summary: {ran - failed} passed, {failed} failed, {len(skipped)} skipped")
    return 1 if problems or status else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], int(sys.argv[2]), len(sys.argv) > 3 and sys.argv[3] not in ("", "0")))
