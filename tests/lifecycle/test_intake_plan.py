"""The intake plan: which landed months get a pull request (once), which files an issue."""

from __future__ import annotations

from flightdelay.adapters.landing import Entry
from flightdelay.lifecycle import layouts
from flightdelay.lifecycle.intake import Plan, make_plan

ROOT = "s3://bucket/landing"
HEADERS = {
    "ontime.csv": list(layouts.BTS_FLIGHTS),
    "asos.csv": list(layouts.ASOS_WEATHER),
    "ontime-2.csv": list(layouts.BTS_FLIGHTS),
    "bad.csv": [c for c in layouts.ASOS_WEATHER if c != "sknt"],
}


def plan(
    files: list[str], *, taken: frozenset[str] = frozenset(), tracked: frozenset[str] = frozenset()
) -> Plan:
    entries = [Entry(f"{ROOT}/{f}", 10) for f in files]
    return make_plan(
        ROOT,
        entries,
        lambda url: HEADERS[url.rsplit("/", 1)[1]],
        window_end="2013-06",
        tracked=set(tracked),
        taken=set(taken),
    )


def both(month: str) -> list[str]:
    return [f"{month}/ontime.csv", f"{month}/asos.csv"]


def test_each_complete_month_after_the_window_gets_one_stacked_pull_request() -> None:
    p = plan([*both("2013-07"), *both("2013-08"), "2013-09/ontime.csv", *both("2013-11")])
    assert [(x.month, x.base, x.source) for x in p.open] == [
        ("2013-07", "main", f"{ROOT}/2013-07/"),
        ("2013-08", "intake/2013-07", f"{ROOT}/2013-08/"),
    ]
    reasons = {s.get("month"): s["reason"] for s in p.skipped}
    assert reasons["2013-09"].startswith("incomplete: no IEM ASOS")
    assert reasons["2013-11"] == "waits for 2013-09 (the window grows month by month)"
    assert not p.malformed


def test_a_month_with_a_branch_or_pull_request_is_never_proposed_again() -> None:
    p = plan([*both("2013-07"), *both("2013-08")], taken=frozenset({"2013-07"}))
    assert [(x.month, x.base) for x in p.open] == [("2013-08", "intake/2013-07")]
    assert plan([*both("2013-07")], taken=frozenset({"2013-07"})).open == []
    assert plan([*both("2013-07")], tracked=frozenset({"2013-07"})).open == []


def test_a_malformed_file_is_an_issue_and_holds_its_month_back() -> None:
    p = plan([*both("2013-07"), "2013-08/ontime.csv", "2013-08/bad.csv", "stray.csv", "2013-07/README.md"])
    assert [x.month for x in p.open] == ["2013-07"]
    problems = {m.file: m.problem for m in p.malformed}
    assert "lacks column(s) sknt" in problems["2013-08/bad.csv"]
    assert problems["stray.csv"] == "not directly in a YYYY-MM/ folder of the landing area"
    assert sorted(m.title for m in p.malformed) == [
        "Data intake: malformed file 2013-08/bad.csv",
        "Data intake: malformed file stray.csv",
    ]
    # An issue is opened once: a title GitHub already has is not repeated.
    out = p.as_json({"Data intake: malformed file stray.csv"})
    assert [i["title"] for i in out["issues"]] == ["Data intake: malformed file 2013-08/bad.csv"]
    assert "sknt" in out["issues"][0]["body"]


def test_two_files_of_one_layout_are_refused() -> None:
    p = plan([*both("2013-07"), "2013-07/ontime-2.csv"])
    assert p.open == []
    assert [(m.file, m.problem) for m in p.malformed] == [("2013-07/", "holds 2 flights files; keep one")]
