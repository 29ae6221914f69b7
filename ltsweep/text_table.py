"""Plain-text tables for the commands' output: aligned columns, numbers to the right."""

from __future__ import annotations

from collections.abc import Sequence


def render(
    headers: Sequence[str],
    rows: Sequence[Sequence[object]],
    indent: str = "  ",
    right: Sequence[int] = (),
) -> str:
    """Columns padded to their widest cell; a column whose cells are all numbers, or listed in
    ``right``, is right-aligned (``None`` prints as an em dash)."""
    cells = [[_text(c) for c in row] for row in rows]
    numeric = [
        i in right
        or (bool(rows) and all(isinstance(row[i], int | float) or row[i] is None for row in rows))
        for i in range(len(headers))
    ]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(headers)]

    def line(values: Sequence[str]) -> str:
        parts = [v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric)]
        return (indent + "  ".join(parts)).rstrip()

    return "\n".join([line(list(headers)), *(line(r) for r in cells)])


def _text(value: object) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 10:
            return f"{value:.0f}"
        return f"{value:,.1f}" if abs(value) >= 10 else f"{value:.3g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def hours(value: float) -> str:
    """An hour count as the commands print it: whole hours from 100 up, else 3 significant."""
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"
