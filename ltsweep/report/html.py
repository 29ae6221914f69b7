"""``index.html``: every figure and the tables on one self-contained page (no CDN, no script).

Images are referenced by relative path, so the report directory can be copied, zipped or opened
from an MLflow artifact view as it is.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from ltsweep.report.figures import ReportFigure

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto;
       max-width: 1200px; padding: 0 1em; color: #222; line-height: 1.45; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { margin-top: 2em; border-bottom: 1px solid #ccc; }
.meta { color: #555; font-size: 0.92em; } nav a { margin-right: 1.2em; }
figure { margin: 1.5em 0; } figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: 0.9em; color: #444; }
table { border-collapse: collapse; font-size: 0.85em; margin: 1em 0; }
th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: right; }
th { background: #f4f4f4; } td:nth-child(-n+5) { text-align: left; }
.empty { color: #777; font-style: italic; } .claims li { margin: 0.4em 0; }
"""


@dataclass
class Section:
    anchor: str
    heading: str
    intro: str
    figures: list[ReportFigure] = field(default_factory=list)
    tables: list[tuple[str, pd.DataFrame]] = field(default_factory=list)  # (caption, table)
    links: list[tuple[str, str]] = field(default_factory=list)  # (href, text)


def _figure(fig: ReportFigure) -> str:
    png = next((f for f in fig.files if f.endswith(".png")), "")
    links = " · ".join(
        f'<a href="{html.escape(f)}">{html.escape(f.rsplit(".", 1)[-1].upper())}</a>'
        for f in fig.files
    )
    return (
        f'<figure id="{html.escape(fig.slug)}"><img src="{html.escape(png)}" '
        f'alt="{html.escape(fig.title)}">'
        f"<figcaption>{html.escape(fig.title)} — {fig.n_runs} finished results · {links}"
        "</figcaption></figure>"
    )


def _table(caption: str, frame: pd.DataFrame) -> str:
    if frame.empty:
        return f'<p class="empty">{html.escape(caption)}: nothing finished yet.</p>'
    body = frame.to_html(index=False, escape=True, na_rep="—", border=0)
    return f"<h3>{html.escape(caption)}</h3>\n{body}"


def _section(sec: Section) -> str:
    parts = [f'<h2 id="{sec.anchor}">{html.escape(sec.heading)}</h2>', f"<p>{sec.intro}</p>"]
    if sec.links:
        links = " · ".join(f'<a href="{html.escape(h)}">{html.escape(t)}</a>' for h, t in sec.links)
        parts.append(f"<p>{links}</p>")
    if not sec.figures and not sec.tables:
        parts.append('<p class="empty">Nothing to show yet.</p>')
    parts += [_figure(f) for f in sec.figures]
    parts += [_table(c, t) for c, t in sec.tables]
    return "\n".join(parts)


def _claims(lines: list[str]) -> str:
    if not lines:
        return ""
    items = "".join(f"<li>{html.escape(line)}</li>" for line in lines)
    return f'<h2 id="findings">What this sweep found</h2>\n<ul class="claims">{items}</ul>\n'


def render(
    title: str, meta: list[str], sections: list[Section], claims: list[str] | None = None
) -> str:
    """The whole page: the claims' lines first, then the sections. ``meta`` and claim lines are
    escaped; section intros are trusted HTML from this package."""
    nav = " ".join(f'<a href="#{s.anchor}">{html.escape(s.heading)}</a>' for s in sections)
    meta_html = "<br>".join(html.escape(m) for m in meta)
    body = "\n".join(_section(s) for s in sections)
    return (
        '<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
        f'<h1>{html.escape(title)}</h1>\n<p class="meta">{meta_html}</p>\n'
        f"{_claims(claims or [])}<nav>{nav}</nav>\n{body}\n</body>\n</html>\n"
    )
