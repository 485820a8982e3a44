"""The front door and the guides: every relative link and picture in the README and docs/ points at a file
that exists, the README stays short with a picture first, and every guide opens with a table of contents
whose entries lead to its headings."""

import re

import pytest

from tests.conftest import REPO

PAGES = [REPO / "README.md", REPO / "experiments" / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
GUIDES = sorted((REPO / "docs").glob("*.md"))
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)[^)]*\)")


def anchor(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def headings(text: str) -> list[str]:
    text = re.sub(r"^```.*?^```", "", text, flags=re.M | re.S)  # not the comment lines of a code block
    return re.findall(r"^#{2,4} (.+)$", text, flags=re.M)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_relative_links_resolve(page):
    text = page.read_text()
    targets = LINK.findall(text)
    local = [t for t in targets if t and not re.match(r"[a-z]+:", t)]
    missing = [t for t in local if t.split("#")[0] and not (page.parent / t.split("#")[0]).exists()]
    assert not missing, f"{page.name} links to missing files: {missing}"
    own = {anchor(h) for h in headings(text)}
    dangling = [t for t in local if t.startswith("#") and t[1:] not in own]
    assert not dangling, f"{page.name} links to headings it does not have: {dangling}"


def test_the_readme_is_short_with_a_picture_first():
    lines = (REPO / "README.md").read_text().splitlines()
    assert len(lines) <= 300
    assert any(line.startswith("![") for line in lines[:40])


@pytest.mark.parametrize("guide", GUIDES, ids=lambda p: p.name)
def test_each_guide_opens_with_its_contents(guide):
    """Before its first section, a guide lists its sections (## headings) as links, in order."""
    text = guide.read_text()
    before = text[: text.index("\n## ")]
    toc = re.findall(r"^- \[.+\]\(#([^)]+)\)$", before, flags=re.M)
    sections = [
        anchor(h) for h in re.findall(r"^## (.+)$", re.sub(r"^```.*?^```", "", text, flags=re.M | re.S), re.M)
    ]
    assert toc and [t for t in toc if t in sections] == sections, (toc, sections)


def test_no_benchmark_json_loose_in_docs():
    assert not list((REPO / "docs").glob("*.json")), "benchmark JSON goes in docs/bench/"
