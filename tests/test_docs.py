"""The README's pictures: every one it links is in docs/, and every picture in docs/ is linked."""

from __future__ import annotations

import re

from conftest import ROOT


def test_the_readme_links_every_screenshot_and_each_exists():
    linked = set(re.findall(r"\((docs/[\w.-]+\.png)\)", (ROOT / "README.md").read_text(encoding="utf-8")))
    pictures = {f"docs/{p.name}" for p in (ROOT / "docs").glob("*.png")}
    assert linked, "the README links no screenshot"
    assert linked - pictures == set(), "linked but missing"
    assert pictures - linked == set(), "in docs/ but not linked"
