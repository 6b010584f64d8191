"""How values read in lists and detail pages: one place, so the list cell and the detail row agree. Each value
is drawn by its field's type (`webapp.admin.types`); this module puts cells into rows."""

from __future__ import annotations

from typing import Any

from markupsafe import Markup

from webapp.admin.fields import Field
from webapp.admin.types.base import EMPTY, MAX_CONTROL_NAME_CHARS, html, truncated

__all__ = ["EMPTY", "cell", "display", "html", "row", "row_cells", "rows"]


def display(field: Field, obj: Any, *, truncate: bool = False) -> str:
    """The text shown for `field` of `obj` (relations are drawn as links by `cell`)."""
    return field.type.display(field, obj, truncate=truncate)


def cell(site: Any, field: Field, obj: Any, *, truncate: bool = False) -> Markup:
    """A value as HTML for a list cell or detail row: relations link to their record when it has an admin."""
    return field.type.cell(site, field, obj, truncate=truncate)


def row_cells(site: Any, admin: Any, obj: Any) -> Markup:
    """The value cells of one list row, the first linking to the record (for a per-model row template)."""
    return Markup(_cells(site, admin, obj))


def _cells(site: Any, admin: Any, obj: Any, links: dict[int, str] | None = None) -> str:
    plan = site.row_plans.get(admin.slug)
    if plan is None:
        # Each column's renderer is worked out once per admin, not per cell (see FieldType.cell_renderer).
        plan = site.row_plans[admin.slug] = [field.type.cell_renderer(site, field) for field in admin.list_fields]
    links = {} if links is None else links
    first, *others = plan
    if admin.record_pages:
        out = [f'<td><a href="{html(admin.url(admin.key_of(obj)))}">{first(obj, links)}</a></td>']
    else:
        out = [f"<td>{first(obj, links)}</td>"]
    out += [f"<td>{render(obj, links)}</td>" for render in others]
    return "".join(out)


def row(site: Any, admin: Any, obj: Any, perms: Any, links: dict[int, str] | None = None) -> Markup:
    """One list row: the bulk checkbox, the value cells and the Edit/Delete links its account may use.

    Python rather than a template included once per row: a list page has 50 to 200 rows, and an include costs
    a new template context each time. The table body supplies hx-target/hx-swap; the actions cell is boosted,
    so its links are plain links without JavaScript and swap the row with it.
    """
    pk = admin.key_of(obj)
    label = html(truncated(site.label(obj), MAX_CONTROL_NAME_CHARS))
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
    links: dict[int, str] = {}  # see ForeignKeyType.cell_renderer; the rows' objects live as long as this call
    return Markup("\n".join([row(site, admin, obj, perms, links) for obj in objs]))
