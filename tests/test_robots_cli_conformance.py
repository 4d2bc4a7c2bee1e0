"""Google's robots.txt conformance cases, run through `ernte robots` (the user-facing debugging tool)."""

import json
from pathlib import Path

from click.testing import CliRunner

from pipeline.cli import main

CASES = json.loads((Path(__file__).parent / "data" / "google_robotstxt_cases.json").read_text(encoding="utf-8"))["cases"]


def test_all_google_cases_through_the_cli(tmp_path):
    runner = CliRunner()
    failures = []
    for i, case in enumerate(CASES):
        robots_file = tmp_path / f"robots-{i}.txt"
        robots_file.write_bytes(case["robotstxt"].encode("utf-8"))
        result = runner.invoke(main, ["robots", str(robots_file), "--agent", case["agent"], case["url"]])
        assert result.exit_code == 0, result.output
        verdict, url, *rule = result.output.rstrip("\n").split(" ", 2)
        assert url == case["url"]
        assert rule, "the deciding rule is printed after the URL"
        if (verdict == "allowed") != case["allowed"]:
            failures.append((case["test"], case["agent"], case["url"], verdict))
    assert len(CASES) == 145
    assert failures == []
