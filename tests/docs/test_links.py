"""The documentation holds together: every relative link of README.md and docs/*.md names a file
that exists (and a heading of it, for a ``#anchor``), every ``docs/…`` page the code names exists,
and every "docs/design.md, invariant N" the code cites is one of the design's numbered promises.

Anchors are made as GitHub makes them from headings: lower case, punctuation but ``-`` and ``_``
dropped, spaces to ``-``, a repeated heading given ``-1``, ``-2``, …"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SOURCES = [p for folder in ("lrs", "events", "projections", "schemas", "tests", "benchmarks", "deploy")
           for p in sorted((ROOT / folder).rglob("*.py"))]

_FENCE = re.compile(r"^\s*(```|~~~)")
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1")
_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")


def _prose(text: str) -> list[str]:
    """The lines of a Markdown text outside fenced code blocks, with code spans blanked."""
    lines, fenced = [], False
    for line in text.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            lines.append(_CODE_SPAN.sub("", line))
    return lines


def slug(heading: str) -> str:
    """GitHub's anchor for a heading's text."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link in a heading anchors by its text
    text = text.replace("`", "").strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    found: set[str] = set()
    seen: dict[str, int] = {}
    fenced = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if _FENCE.match(line):
            fenced = not fenced
            continue
        heading = None if fenced else _HEADING.match(line)
        if heading:
            base = slug(heading.group(2))
            count = seen.get(base, 0)
            seen[base] = count + 1
            found.add(base if count == 0 else f"{base}-{count}")
    return found


def links(path: Path) -> list[str]:
    return [m.group(1) for line in _prose(path.read_text(encoding="utf-8")) for m in _LINK.finditer(line)]


def _relative(target: str) -> bool:
    return not re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I) and not target.startswith("//")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(page: Path):
    broken = []
    for target in filter(_relative, links(page)):
        file_part, _, anchor = target.partition("#")
        resolved = (page.parent / file_part).resolve() if file_part else page
        if not resolved.exists():
            broken.append(f"{target}: no such file")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            broken.append(f"{target}: no heading with that anchor in {resolved.relative_to(ROOT)}")
    assert not broken, f"{page.relative_to(ROOT)}: " + "; ".join(broken)


def test_the_readme_is_a_front_door():
    """README.md stays one or two screens; the rest lives in docs/, linked from its index."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 200
    linked = {(ROOT / t.partition("#")[0]).resolve() for t in links(ROOT / "README.md") if _relative(t)}
    unlinked = [p.name for p in PAGES[1:] if p.resolve() not in linked]
    assert not unlinked, f"docs pages missing from the README's index: {unlinked}"


def test_every_docs_page_the_code_names_exists():
    named = {m for source in SOURCES for m in re.findall(r"\bdocs/([\w.-]+\.md)\b", source.read_text(encoding="utf-8"))}
    assert "cohort-metrics.md" in named  # the dashboard serves it as its metrics help page
    missing = sorted(name for name in named if not (ROOT / "docs" / name).is_file())
    assert not missing, f"the code names docs pages that do not exist: {missing}"


def test_every_invariant_the_code_cites_is_in_the_design():
    design = (ROOT / "docs" / "design.md").read_text(encoding="utf-8")
    section = design.split("## Invariants", 1)[1].split("\n## ", 1)[0]
    numbered = {int(n) for n in re.findall(r"^(\d+)\. \*\*", section, re.M)}
    assert numbered == set(range(1, len(numbered) + 1)) and len(numbered) >= 11
    cited = {}
    for source in SOURCES:
        text = re.sub(r"\s+", " ", source.read_text(encoding="utf-8"))
        for numbers in re.findall(r"docs/design\.md, invariants? (\d+(?: and \d+)*)", text):
            for n in re.findall(r"\d+", numbers):
                cited.setdefault(int(n), []).append(source.relative_to(ROOT).as_posix())
    assert cited, "the code cites docs/design.md's invariants"
    unknown = {n: where for n, where in cited.items() if n not in numbered}
    assert not unknown, f"cited invariants the design does not number: {unknown}"
    old = "DESIGN" + " invariant"  # the document that was not in the repository
    assert not [s.name for s in SOURCES if old in re.sub(r"\s+", " ", s.read_text(encoding="utf-8"))]
