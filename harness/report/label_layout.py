"""Deterministic label rows for the timeline: a label that would overprint moves to the next row."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

# Average glyph width as a fraction of the font size, measured in Chromium on the report's
# labels (hex ids and digits are wide); slightly generous so estimates err towards a new row.
REGULAR_EM = 0.56
BOLD_EM = 0.64
GAP = 6.0  # least horizontal space between two labels on one row


def text_width(text: str, font_size: float = 11.0, bold: bool = False) -> float:
    """Estimated drawn width of `text`: characters × font size × an average glyph factor."""
    return len(text) * font_size * (BOLD_EM if bold else REGULAR_EM)


@dataclass(frozen=True)
class Slot:
    """Where a label goes: its left edge and its row (0 is the row nearest the marker line)."""

    x: float
    row: int


@dataclass(frozen=True)
class Label:
    """One drawn label with its box: x, y (top), width and height in SVG units."""

    text: str
    lane: str
    x: float
    y: float
    width: float
    height: float

    def overlaps(self, other: Label) -> bool:
        """True when the two boxes share any area."""
        return (self.x < other.x + other.width and other.x < self.x + self.width
                and self.y < other.y + other.height and other.y < self.y + self.height)


def place(wanted: Sequence[tuple[float, float]], left: float, right: float) -> list[Slot]:
    """Rows for labels given as (wanted left x, width), in drawing order.

    Each label is first kept inside [left, right], then put on the lowest row where it
    clears every label already there by GAP; rows are unbounded, so nothing overprints.
    """
    rows: list[list[tuple[float, float]]] = []
    slots = []
    for want, width in wanted:
        x0 = max(left, min(want, right - width))
        row = next(
            (n for n, taken in enumerate(rows)
             if all(x0 + width + GAP <= a or b + GAP <= x0 for a, b in taken)),
            len(rows),
        )
        if row == len(rows):
            rows.append([])
        rows[row].append((x0, x0 + width))
        slots.append(Slot(x0, row))
    return slots


def row_count(slots: Sequence[Slot]) -> int:
    """How many rows the slots use (0 for none)."""
    return max((s.row for s in slots), default=-1) + 1
