"""How values read in lists and detail pages: one place, so the list cell and the detail row agree."""

from __future__ import annotations

import enum
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from markupsafe import Markup, escape

from webapp.admin.fields import Field, Kind

EMPTY = "—"
MAX_CELL_CHARS = 80


def display(field: Field, obj: Any, *, truncate: bool = False) -> str:
    """The text shown for `field` of `obj` (relations are rendered as links by the templates)."""
    value = getattr(obj, field.name)
    if value is None:
        return EMPTY
    if field.kind in {Kind.BOOLEAN, Kind.NULLABLE_BOOLEAN}:
        return "Yes" if value else "No"
    if isinstance(value, enum.Enum):
        text = str(value.value)
    elif isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC)
        text = value.strftime("%Y-%m-%d %H:%M:%S") + (" UTC" if value.tzinfo else "")
    elif isinstance(value, Decimal):
        text = format(value, ",f")
    elif field.kind is Kind.JSON:
        text = json.dumps(value, ensure_ascii=False)
    else:
        text = str(value)
    if truncate and len(text) > MAX_CELL_CHARS:
        return text[: MAX_CELL_CHARS - 1] + "…"
    return text


def cell(site: Any, field: Field, obj: Any, *, truncate: bool = False) -> Markup:
    """A value as HTML for a list cell or detail row: relations link to their record when it has an admin.

    Python rather than a Jinja macro: a list page renders hundreds of these.
    """
    if field.kind is Kind.FOREIGN_KEY:
        related = getattr(obj, field.relationship) if field.relationship else None
        return Markup(EMPTY) if related is None else _link(site, related)
    if field.kind is Kind.MANY_TO_MANY:
        items = getattr(obj, field.name)
        return Markup(", ".join([_link(site, o) for o in items])) if items else Markup(EMPTY)
    return escape(display(field, obj, truncate=truncate))


def row_cells(site: Any, admin: Any, obj: Any) -> Markup:
    """The value cells of one list row, the first linking to the record: one call per row instead of a
    template loop with a call per cell (a page has 50 rows of several cells each)."""
    cells = []
    for index, field in enumerate(admin.list_fields):
        content = cell(site, field, obj, truncate=True)
        if index == 0:
            content = f'<a href="{escape(admin.url(admin.pk_of(obj)))}">{content}</a>'
        cells.append(f"<td>{content}</td>")
    return Markup("".join(cells))


def _link(site: Any, obj: Any) -> Markup:
    admin = site.admin_for(type(obj))
    label = escape(site.label(obj))
    if admin is None:
        return label
    # Both parts escaped by hand: Markup.format goes through string.Formatter, slow for hundreds of cells.
    return Markup(f'<a href="{escape(admin.url(admin.pk_of(obj)))}">{label}</a>')
