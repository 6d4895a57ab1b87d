"""A tiny SVG element writer: escaped attributes and text, so drawing code stays readable."""

from __future__ import annotations

from xml.sax.saxutils import escape, quoteattr


def _value(v: object) -> str:
    if isinstance(v, float):
        return f"{v:.2f}".rstrip("0").rstrip(".")
    return str(v)


def el(tag: str, *children: str, text: str | None = None, **attrs: object) -> str:
    """One element: `stroke_width=1` gives stroke-width="1"; None-valued attributes are omitted."""
    rendered = "".join(
        f" {name.rstrip('_').replace('_', '-')}={quoteattr(_value(v))}"
        for name, v in attrs.items()
        if v is not None
    )
    inner = (escape(text) if text is not None else "") + "".join(children)
    if not inner:
        return f"<{tag}{rendered}/>"
    return f"<{tag}{rendered}>{inner}</{tag}>"


def title(text: str) -> str:
    """A <title>: the tooltip a browser shows on hover, and what a screen reader reads."""
    return el("title", text=text)
