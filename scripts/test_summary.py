"""Add up the JUnit reports of the test passes; fail when any test was skipped or a pass ran nothing."""
import sys
import xml.etree.ElementTree as ET


def totals(path):
    root = ET.parse(path).getroot()
    suites = [root] if root.tag == "testsuite" else list(root)
    count = {k: sum(int(s.get(k, 0)) for s in suites) for k in ("tests", "failures", "errors", "skipped")}
    skipped = [f"{case.get('classname')}::{case.get('name')}" for s in suites for case in s.iter("testcase")
               if case.find("skipped") is not None]
    browser = sum(1 for s in suites for case in s.iter("testcase") if ".e2e." in (case.get("classname") or ""))
    return count, skipped, browser


def main(paths):
    grand = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    problems = []
    for path in paths:
        try:
            count, skipped, browser = totals(path)
        except (OSError, ET.ParseError) as exc:
            problems.append(f"{path}: no report ({exc})")
            continue
        for k in grand:
            grand[k] += count[k]
        if count["tests"] == 0:
            problems.append(f"{path}: no test ran")
        if browser == 0:
            problems.append(f"{path}: no browser test ran")
        problems += [f"skipped: {name}" for name in skipped]
    for p in problems:
        print(p)
    passed = grand["tests"] - grand["failures"] - grand["errors"] - grand["skipped"]
    print(f"{passed} passed, {grand['failures'] + grand['errors']} failed, {grand['skipped']} skipped")
    return 1 if problems or grand["failures"] or grand["errors"] else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
