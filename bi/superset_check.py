"""Check that every chart of the plant manager's dashboard returns data through Superset's API.

Asks Superset's chart-data endpoint for each chart's saved query (Superset runs it on
``plantlake serve``); exits non-zero naming every chart that failed or returned no rows.
"""

from __future__ import annotations

import argparse
import sys

from superset_api import Superset, SupersetError
from superset_provision import DASHBOARD_SLUG


def check(api: Superset) -> list[str]:
    dashboard = api.find("dashboard", "slug", DASHBOARD_SLUG)
    if dashboard is None:
        return [f"no dashboard {DASHBOARD_SLUG!r}: run bi/superset_provision.py first"]
    charts = api.call("GET", f"dashboard/{dashboard}/charts", "list the dashboard's charts")["result"]
    if not charts:
        return ["the dashboard has no charts"]
    problems = []
    for chart in charts:
        name = chart["slice_name"]
        try:
            result = api.call("GET", f"chart/{chart['id']}/data/?format=json&type=full", f"run chart {name!r}")
        except SupersetError as exc:
            problems.append(f"{name}: {exc}")
            continue
        rows = sum(len(r.get("data") or []) for r in result.get("result", []))
        errors = [r["error"] for r in result.get("result", []) if r.get("error")]
        if errors or rows == 0:
            problems.append(f"{name}: {'; '.join(errors) or 'no rows'}")
        print(f"{'ok ' if rows and not errors else 'BAD'} {rows:6d} rows  {name}")
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8088")
    parser.add_argument("--user", default="admin")
    parser.add_argument("--password", required=True)
    args = parser.parse_args()
    problems = check(Superset(args.url, args.user, args.password))
    if problems:
        print("\nCHARTS WITHOUT DATA:\n  " + "\n  ".join(problems), file=sys.stderr)
        sys.exit(1)
    print("every chart of the dashboard returned data")


if __name__ == "__main__":
    main()
