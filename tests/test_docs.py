"""The docs' relative links lead to files of the repository (pages move, and generated pages point
at hand-written ones)."""

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
#: A markdown link's target: ``[text](target)``.
_LINK = re.compile(r"\]\(([^)\s]+)\)")


def relative_links(page: Path) -> list[str]:
    """The targets of ``page``'s links that name a path (no scheme, not an anchor alone), anchors
    dropped."""
    return [target.split("#")[0] for target in _LINK.findall(page.read_text())
            if not re.match(r"[a-z]+:", target) and not target.startswith("#")]


def test_relative_links_resolve():
    pages = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
    assert len(pages) > 5
    broken = [f"{page.relative_to(REPO)}: {target}" for page in pages
              for target in relative_links(page) if not (page.parent / target).exists()]
    assert not broken, broken


def test_the_bench_page_points_at_the_analysis():
    from liveness.bench import ANALYSIS

    assert "[speed.md](speed.md)" in ANALYSIS
    assert (REPO / "docs" / "benchmarks.md").read_text().rstrip().endswith(ANALYSIS)
