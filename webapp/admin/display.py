"""How values read in lists and detail pages: one place, so the list cell and the detail row agree."""

from __future__ import annotations

import enum
import json
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from markupsafe import Markup, escape

from webapp.admin.fields import Field, Kind

EMPTY = "—"
MAX_CELL_CHARS = 80


def html(value: Any) -> str:
    """`markupsafe.escape` as a plain str, for HTML assembled by hand: a list page escapes about a thousand
    values, and a Markup object made for each one (then joined into a str) was 5% of the page."""
    if type(value) is str:
        return (
            value.replace("&", "&amp;")
            .replace("<", "&lt;")
            .replace(">", "&gt;")
            .replace('"', "&#34;")
            .replace("'", "&#39;")
        )
    if type(value) is int:
        return str(value)
    return str(escape(value))  # anything else, Markup included, as markupsafe sees it


YES_NO = frozenset({Kind.BOOLEAN, Kind.NULLABLE_BOOLEAN})
RELATION = frozenset({Kind.FOREIGN_KEY, Kind.MANY_TO_MANY})


def display(field: Field, obj: Any, *, truncate: bool = False) -> str:
    """The text shown for `field` of `obj` (relations are rendered as links by the templates)."""
    value = getattr(obj, field.name)
    if value is None:
        return EMPTY
    kind = field.kind
    if type(value) is str and kind is not Kind.JSON:  # most cells: no conversion at all
        text = value
    elif kind in YES_NO:
        return "Yes" if value else "No"
    elif isinstance(value, enum.Enum):
        text = str(value.value)
    elif isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC)
        text = value.strftime("%Y-%m-%d %H:%M:%S") + (" UTC" if value.tzinfo else "")
    elif isinstance(value, Decimal):
        text = format(value, ",f")
    elif kind is Kind.JSON:
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
    if field.kind not in RELATION:
        return escape(display(field, obj, truncate=truncate))
    if field.kind is Kind.FOREIGN_KEY:
        related = getattr(obj, field.relationship) if field.relationship else None
        return Markup(EMPTY) if related is None else _link(site, related)
    items = getattr(obj, field.name)
    return Markup(", ".join([_link(site, o) for o in items])) if items else Markup(EMPTY)


def row_cells(site: Any, admin: Any, obj: Any) -> Markup:
    """The value cells of one list row, the first linking to the record (for a per-model row template)."""
    return Markup(_cells(site, admin, obj))


CellRenderer = Callable[[Any, dict[int, str]], str]
TEXT_KINDS = frozenset({Kind.STRING, Kind.EMAIL, Kind.TEXT})


def _cells(site: Any, admin: Any, obj: Any, links: dict[int, str] | None = None) -> str:
    plan = site.row_plans.get(admin.slug)
    if plan is None:
        plan = site.row_plans[admin.slug] = [_cell_renderer(site, field) for field in admin.list_fields]
    links = {} if links is None else links
    first, *others = plan
    out = [f'<td><a href="{html(admin.url(admin.pk_of(obj)))}">{first(obj, links)}</a></td>']
    out += [f"<td>{render(obj, links)}</td>" for render in others]
    return "".join(out)


def _cell_renderer(site: Any, field: Field) -> CellRenderer:
    """How one list column turns a record into escaped HTML, worked out once per column instead of per cell:
    the same text as `cell`, by the quickest path for the column's kind. `links` holds the related records'
    links drawn so far on this page (by object: the session gives each row one object), so the ten tags of
    fifty items are drawn ten times, not seventy-five."""
    name = field.name
    if field.kind is Kind.FOREIGN_KEY:
        relationship = field.relationship
        link = _linker(site, field.related_model)

        def related(obj: Any, links: dict[int, str]) -> str:
            value = getattr(obj, relationship) if relationship else None
            if value is None:
                return EMPTY
            drawn = links.get(id(value))
            if drawn is None:
                drawn = links[id(value)] = link(value)
            return drawn

        return related
    if field.kind is Kind.MANY_TO_MANY:
        link = _linker(site, field.related_model)

        def collection(obj: Any, links: dict[int, str]) -> str:
            values = getattr(obj, name)
            if not values:
                return EMPTY
            out = []
            for value in values:
                drawn = links.get(id(value))
                if drawn is None:
                    drawn = links[id(value)] = link(value)
                out.append(drawn)
            return ", ".join(out)

        return collection
    if field.kind in TEXT_KINDS:

        def text(obj: Any, _links: dict[int, str]) -> str:
            value = getattr(obj, name)
            if type(value) is not str:
                return html(display(field, obj, truncate=True))
            if len(value) > MAX_CELL_CHARS:
                value = value[: MAX_CELL_CHARS - 1] + "…"
            return html(value)

        return text
    if field.kind is Kind.INTEGER:

        def integer(obj: Any, _links: dict[int, str]) -> str:
            value = getattr(obj, name)
            return str(value) if type(value) is int else html(display(field, obj, truncate=True))

        return integer
    return lambda obj, _links: html(display(field, obj, truncate=True))


def _linker(site: Any, model: Any) -> Callable[[Any], str]:
    """A link to a related record (its label alone when its model has no admin)."""
    admin = site.admin_for(model)
    if admin is None:
        return lambda obj: _link(site, obj)
    prefix, pk_name, label = html(admin.list_url), admin.pk_name, admin.label

    def link(obj: Any) -> str:
        if type(obj) is not model:  # a subclass may have an admin of its own
            return _link(site, obj)
        return f'<a href="{prefix}{html(getattr(obj, pk_name))}">{html(label(obj))}</a>'

    return link


def row(site: Any, admin: Any, obj: Any, perms: Any, links: dict[int, str] | None = None) -> Markup:
    """One list row: the bulk checkbox, the value cells and the Edit/Delete links its account may use.

    Python rather than a template included once per row: a list page has 50 to 200 rows, and an include costs
    a new template context each time. The table body supplies hx-target/hx-swap; the actions cell is boosted,
    so its links are plain links without JavaScript and swap the row with it.
    """
    pk = admin.pk_of(obj)
    label = html(site.label(obj))
    url = html(admin.url(pk))
    parts = [f'<tr id="{html(admin.dom_id(pk))}">']
    if perms.bulk:
        parts.append(
            f'<td><input type="checkbox" name="ids" value="{html(pk)}" form="bulk-form"'
            f' aria-label="Select {label}"></td>'
        )
    parts.append(_cells(site, admin, obj, links))
    parts.append('<td class="actions" hx-boost="true">')
    if perms.change and perms.allows("change", obj):
        parts.append(f'<a href="{url}/edit" aria-label="Edit {label}">Edit</a>')
    if perms.delete and perms.allows("delete", obj):
        parts.append(f' <a href="{url}/delete" aria-label="Delete {label}">Delete</a>')
    parts.append("</td></tr>")
    return Markup("".join(parts))


def rows(site: Any, admin: Any, objs: list[Any], perms: Any) -> Markup:
    links: dict[int, str] = {}  # see _cell_renderer; the rows' objects live as long as this call
    return Markup("\n".join([row(site, admin, obj, perms, links) for obj in objs]))


def _link(site: Any, obj: Any) -> Markup:
    admin = site.admin_for(type(obj))
    label = escape(site.label(obj))
    if admin is None:
        return label
    # Both parts escaped by hand: Markup.format goes through string.Formatter, slow for hundreds of cells.
    return Markup(f'<a href="{escape(admin.url(admin.pk_of(obj)))}">{label}</a>')
