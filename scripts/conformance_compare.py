#!/usr/bin/env python3
"""Compare MCP conformance results of the fixture server run directly and through agentmux.

Input layout (written by scripts/conformance.sh):
    RESULTS/<revision>/direct/server-<scenario>-<timestamp>/checks.json
    RESULTS/<revision>/via/server-<scenario>-<timestamp>/checks.json

`conformance server --output-dir DIR` writes one `server-<scenario>-<ISO time with : and .
replaced by ->` directory per scenario, holding `checks.json`: a JSON array of checks
{id, name, description, status, errorMessage?, ...} with status SUCCESS | FAILURE |
WARNING | INFO. A scenario passes when none of its checks is a FAILURE (the rule of the
suite's own summary); WARNINGs are reported, not failed. A scenario that has no
checks.json on one side (the run crashed or timed out before writing it) counts as failed
there.

A scenario that passes directly but not through agentmux is a regression and fails the run
unless tests/conformance/expected-failures.txt lists it:
    scenario-name                # reason        (every revision)
    scenario-name 2026-07-28     # reason        (that revision only)

Standard library only, so it runs before or without the venv.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

RESULT_DIR = re.compile(r"^server-(?P<scenario>.+)-\d{4}-\d{2}-\d{2}T[\d-]+Z$")
PASS, FAIL, MISSING = "pass", "FAIL", "missing"


@dataclass
class Outcome:
    status: str  # PASS | FAIL | MISSING
    warnings: int = 0
    failures: list[str] = field(default_factory=list)  # "check-id: message"

    def label(self) -> str:
        if self.status == PASS and self.warnings:
            return f"pass ({self.warnings} warn)"
        return self.status


def load_side(side_dir: Path) -> dict[str, Outcome]:
    out: dict[str, Outcome] = {}
    if not side_dir.is_dir():
        return out
    for d in sorted(side_dir.iterdir()):
        m = RESULT_DIR.match(d.name)
        if not m or not d.is_dir():
            continue
        scenario = m.group("scenario")
        checks_file = d / "checks.json"
        try:
            checks = json.loads(checks_file.read_text())
            if not isinstance(checks, list):
                raise ValueError("checks.json is not a JSON array")
        except (OSError, ValueError) as e:
            outcome = Outcome(FAIL, failures=[f"unreadable {checks_file}: {e}"])
        else:
            failures = [
                f"{c.get('id', '?')}: {c.get('errorMessage') or c.get('description') or ''}".strip()
                for c in checks
                if isinstance(c, dict) and c.get("status") == "FAILURE"
            ]
            warnings = sum(1 for c in checks if isinstance(c, dict) and c.get("status") == "WARNING")
            outcome = Outcome(FAIL if failures else PASS, warnings, failures)
        previous = out.get(scenario)
        if previous is None or previous.status == PASS:  # a scenario run twice keeps its worst result
            out[scenario] = outcome
    return out


def load_expected(path: Path) -> dict[tuple[str, str | None], str]:
    """(scenario, revision or None) -> reason."""
    entries: dict[tuple[str, str | None], str] = {}
    if not path.exists():
        return entries
    for lineno, raw in enumerate(path.read_text().splitlines(), 1):
        body, _, reason = raw.partition("#")
        tokens = body.split()
        if not tokens:
            continue
        if len(tokens) > 2 or (len(tokens) == 2 and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", tokens[1])):
            sys.exit(f"{path}:{lineno}: expected 'scenario-name [YYYY-MM-DD]  # reason', got {raw!r}")
        entries[(tokens[0], tokens[1] if len(tokens) == 2 else None)] = reason.strip() or "(no reason given)"
    return entries


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--results", type=Path, required=True)
    ap.add_argument("--revisions", nargs="+", required=True)
    ap.add_argument("--expected-failures", type=Path, required=True)
    ap.add_argument("--summary-json", type=Path)
    args = ap.parse_args()

    expected = load_expected(args.expected_failures)
    used_entries: set[tuple[str, str | None]] = set()
    regressions: list[str] = []
    setup_errors: list[str] = []
    stale: list[str] = []
    passed = failed = skipped = 0
    summary: dict[str, list[dict[str, object]]] = {}

    for rev in args.revisions:
        direct = load_side(args.results / rev / "direct")
        via = load_side(args.results / rev / "via")
        if not direct:
            setup_errors.append(f"{rev}: no scenario results from the direct run (see its log)")
        scenarios = sorted(set(direct) | set(via))
        width = max([len("scenario"), *map(len, scenarios)])
        print(f"\n=== MCP conformance, requirements {rev}: fixture direct vs through agentmux /mcp/fixture ===")
        print(f"{'scenario':<{width}} | {'direct':<14} | {'via agentmux':<14} | note")
        print(f"{'-' * width}-+-{'-' * 14}-+-{'-' * 14}-+-----")
        rows = []
        for s in scenarios:
            d = direct.get(s, Outcome(MISSING))
            v = via.get(s, Outcome(MISSING))
            key = (s, rev) if (s, rev) in expected else (s, None)
            reason = expected.get(key)
            note = ""
            if v.status == PASS:
                passed += 1
                if reason is not None:
                    used_entries.add(key)
                    stale.append(f"{s} ({rev}): listed in expected-failures but passes through agentmux")
                    note = "stale expected-failure entry"
            elif d.status != PASS:
                skipped += 1
                note = "fails directly too (fixture)"
            elif reason is not None:
                skipped += 1
                used_entries.add(key)
                note = f"expected failure: {reason}"
            else:
                failed += 1
                note = "REGRESSION"
                detail = "; ".join(v.failures[:3]) or "no results"
                regressions.append(f"{s} ({rev}): passes directly, fails through agentmux: {detail}")
            print(f"{s:<{width}} | {d.label():<14} | {v.label():<14} | {note}")
            rows.append({"scenario": s, "direct": d.status, "via": v.status, "note": note, "via_failures": v.failures})
        summary[rev] = rows

    for key in expected:
        if key not in used_entries and (key[1] is None or key[1] in args.revisions):
            s, rev = key
            seen = any(
                any(r["scenario"] == s for r in summary.get(r_rev, [])) for r_rev in ([rev] if rev else args.revisions)
            )
            if not seen:
                stale.append(f"{s}{f' ({rev})' if rev else ''}: listed in expected-failures but no such scenario ran")

    if args.summary_json:
        args.summary_json.write_text(json.dumps(summary, indent=2))
    print()
    for line in stale:
        print(f"warning: {line}")
    for line in setup_errors:
        print(f"error: {line}")
    for line in regressions:
        print(f"error: {line}")
    print(f"conformance: {passed} passed, {failed} failed, {skipped} skipped")
    return 1 if regressions or setup_errors else 0


if __name__ == "__main__":
    sys.exit(main())
