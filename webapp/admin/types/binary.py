"""Binary values (LargeBinary, PostgreSQL's BYTEA): shown as their size, downloaded whole, never typed."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from markupsafe import Markup

from webapp.admin.types.base import EMPTY, CellRenderer, FieldType, html

if TYPE_CHECKING:
    from webapp.admin.fields import Field


def size_text(size: int) -> str:
    """1 byte, 950 bytes, 12.3 KB, 4.1 MB: KB are 1,024 bytes."""
    if size == 1:
        return "1 byte"
    if size < 1024:
        return f"{size:,} bytes"
    for unit in ("KB", "MB", "GB"):
        size /= 1024  # type: ignore[assignment]
        if size < 1024 or unit == "GB":
            return f"{size:,.1f} {unit}"
    raise AssertionError("unreachable")


class BinaryType(FieldType):
    """No input (bytes cannot be typed into a form); the cell says how big the value is, and the detail page
    links to its download (`admin:download`)."""

    name = "binary"
    editable = False
    bulky = True

    def text(self, field: Field, value: Any) -> str:
        return size_text(len(value))

    def cell(self, site: Any, field: Field, obj: Any, *, truncate: bool = False) -> Markup:
        value = getattr(obj, field.name)
        admin = site.admin_for(type(obj)) if site is not None else None
        if value is None or admin is None:
            return Markup(EMPTY if value is None else html(self.text(field, value)))
        url = admin.url(admin.key_of(obj), f"download/{field.name}")
        return Markup(f'<a href="{html(url)}" download>Download ({html(self.text(field, value))})</a>')

    def cell_renderer(self, site: Any, field: Field) -> CellRenderer:
        return lambda obj, _links: self.cell(site, field, obj)

    def export_text(self, site: Any, field: Field, obj: Any) -> str:
        value = getattr(obj, field.name)
        return "" if value is None else value.hex()

    def from_json(self, field: Field, value: Any) -> Any:
        return bytes.fromhex(value)


BINARY = BinaryType()
