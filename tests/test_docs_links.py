"""The repository's documentation can be followed from a clone: every relative link in the
Markdown files resolves to a file inside the repository (and to a heading there when it names
one), every ``docs/design.md#section`` cited from code, tests, sweeps or docs names a section
that exists, nothing cites the design notes that used to live outside the repository, and the
user docs carry no issue numbers. Plain text parsing: no torch, Ray or MLflow."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SKIP_DIRS = {".git", ".venv", "runs", "node_modules", "__pycache__", "results"}
TEXT_SUFFIXES = {".py", ".md", ".yaml", ".yml", ".toml", ".sh", ".cfg", ".txt"}

FENCE = re.compile(r"^(```|~~~).*?^\1", re.S | re.M)
CODE_SPAN = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$", re.M)
DESIGN_REF = re.compile(r"docs/design\.md#([A-Za-z0-9_-]+)")
OUTSIDE_REF = re.compile(r"\b(?:SPEC|DESIGN|STYLE)\.md\b|\.\./shared\b|/work/shared")
ISSUE_REF = re.compile(r"\bissues?\s+#?\d+|\(#\d+\)", re.I)


def _files(suffixes: set[str]) -> list[Path]:
    found = []
    for path in REPO.rglob("*"):
        rel = path.relative_to(REPO)
        if any(part in SKIP_DIRS or part.startswith(".") for part in rel.parts[:-1]):
            continue
        if path.is_file() and (path.suffix in suffixes or path.name == "Makefile"):
            found.append(path)
    return sorted(found)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: markup and punctuation dropped, spaces to hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link's text only
    text = re.sub(r"[`*_~]|<[^>]+>", lambda m: "_" if m.group() == "_" else "", text)
    text = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return text.replace(" ", "-")


def anchors(md: Path) -> set[str]:
    """Every anchor a Markdown file offers, duplicates numbered as GitHub does."""
    seen: dict[str, int] = {}
    out = set()
    for heading in HEADING.findall(FENCE.sub("", md.read_text())):
        base = slug(heading)
        n = seen.get(base, 0)
        seen[base] = n + 1
        out.add(base if n == 0 else f"{base}-{n}")
    out |= set(re.findall(r"<a\s+(?:id|name)=\"([^\"]+)\"", md.read_text()))
    return out


def _links(md: Path) -> list[str]:
    text = CODE_SPAN.sub("", FENCE.sub("", md.read_text()))
    return LINK.findall(text)


def test_slug_follows_githubs_rules() -> None:
    """The anchor rule the link check relies on, on headings of the kinds the docs use."""
    cases = {
        "Resume and failures": "resume-and-failures",
        "2026-12-02: the demo's wall time: where it goes": "2026-12-02-the-demos-wall-time-where-it-goes",
        "The Fashion-MNIST study (`search_spaces/fashion.yaml`)": "the-fashion-mnist-study-search_spacesfashionyaml",
        "Ray facts — Tune": "ray-facts--tune",
    }
    for heading, want in cases.items():
        assert slug(heading) == want, (
            f"slug({heading!r}) = {slug(heading)!r}, GitHub gives {want!r}"
        )


def test_relative_links_in_markdown_resolve_inside_the_repository() -> None:
    """Each relative link names an existing file in the repo, and an existing heading if any."""
    mds = _files({".md"})
    assert REPO / "README.md" in mds and REPO / "docs" / "design.md" in mds, "docs not found"
    bad = []
    for md in mds:
        for target in _links(md):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
                continue
            path, _, anchor = target.partition("#")
            dest = (md.parent / path).resolve() if path else md
            where = f"{md.relative_to(REPO)}: ({target})"
            if not dest.is_relative_to(REPO):
                bad.append(f"{where} leaves the repository")
            elif not dest.exists():
                bad.append(f"{where} names a missing file")
            elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
                bad.append(f"{where}: no heading #{anchor} in {dest.relative_to(REPO)}")
    assert not bad, "dangling links:\n" + "\n".join(bad)


def test_design_sections_cited_anywhere_exist() -> None:
    """``docs/design.md#x`` in code, tests, sweep files and docs names a real section."""
    sections = anchors(REPO / "docs" / "design.md")
    me = Path(__file__).resolve()
    bad = [
        f"{path.relative_to(REPO)}: #{name}"
        for path in _files(TEXT_SUFFIXES)
        if path.resolve() != me
        for name in DESIGN_REF.findall(path.read_text(errors="replace"))
        if name not in sections
    ]
    assert not bad, (
        f"cited sections missing from docs/design.md ({sorted(sections)}):\n" + "\n".join(bad)
    )


def test_nothing_cites_design_notes_outside_the_repository() -> None:
    """A clone must be able to follow its own references: no SPEC.md, DESIGN.md, ../shared."""
    me = Path(__file__).resolve()
    bad = [
        f"{path.relative_to(REPO)}:{n}: {line.strip()[:100]}"
        for path in _files(TEXT_SUFFIXES)
        if path.resolve() != me
        for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1)
        if OUTSIDE_REF.search(line)
    ]
    assert not bad, "references to files outside the repository:\n" + "\n".join(bad)


def test_user_docs_name_no_issue_numbers() -> None:
    """README and docs/ are for users: no "issue 12" left from the project's tracker."""
    docs = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
    bad = [
        f"{md.relative_to(REPO)}:{n}: {line.strip()[:100]}"
        for md in docs
        for n, line in enumerate(md.read_text().splitlines(), 1)
        if ISSUE_REF.search(line)
    ]
    assert not bad, "issue numbers in user docs:\n" + "\n".join(bad)


def test_code_paths_named_in_user_docs_exist() -> None:
    """A module or script the README or docs/ name by path (``ltsweep/tune/gate.py``) exists."""
    named = re.compile(r"\b((?:ltsweep|bench|scripts)/[\w/.-]*\w\.(?:py|sh|yaml))\b")
    docs = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]
    bad = [
        f"{md.relative_to(REPO)}: {path}"
        for md in docs
        for path in sorted(set(named.findall(md.read_text())))
        if not (REPO / path).exists()
    ]
    assert not bad, "paths named in the docs that do not exist:\n" + "\n".join(bad)
