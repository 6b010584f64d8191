"""Text columns: a line of text, an email address, long text."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy import Column

from webapp.admin.types.base import CellRenderer, FieldError, FieldType, WidgetInput, base_type, html, truncated

if TYPE_CHECKING:
    from webapp.admin.fields import Field

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class StringType(FieldType):
    name = "string"
    searchable = True

    def for_column(self, column: Column[Any]) -> FieldType:
        if getattr(base_type(column), "length", None) is None:
            return TEXT
        return EMAIL if column.info.get("format") == "email" else self

    def facts(self, column: Column[Any]) -> dict[str, Any]:
        return {"max_length": getattr(base_type(column), "length", None)}

    def parse_text(self, field: Field, text: str) -> Any:
        text = super().parse_text(field, text)
        if field.max_length is not None and len(text) > field.max_length:
            raise FieldError(f"Ensure this value has at most {field.max_length} characters (it has {len(text)}).")
        return text

    def cell_renderer(self, site: Any, field: Field) -> CellRenderer:
        # Most list cells are short strings: no conversion, one escape (bench: list-page scenarios).
        name, display = field.name, self.display

        def text(obj: Any, _links: dict[int, str]) -> str:
            value = getattr(obj, name)
            return html(truncated(value)) if type(value) is str else html(display(field, obj, truncate=True))

        return text


class EmailType(StringType):
    name = "email"
    input_type = "email"

    def for_column(self, column: Column[Any]) -> FieldType:
        return self

    def parse_text(self, field: Field, text: str) -> Any:
        text = super().parse_text(field, text)
        if not EMAIL_RE.match(text):
            raise FieldError("Enter a valid email address.")
        return text


class TextType(StringType):
    """Long text: a textarea, kept as typed (leading spaces and line breaks are part of it)."""

    name = "text"
    strips = False
    bulky = True
    searchable = False
    rows: ClassVar[tuple[int, int]] = (6, 2)  # textarea rows on a page, in a list row's form

    def for_column(self, column: Column[Any]) -> FieldType:
        return self

    def widget(self, field: Field, w: WidgetInput) -> str:
        maxlength = f' maxlength="{field.max_length}"' if field.max_length else ""
        rows = self.rows[1] if w.compact else self.rows[0]
        return f'<textarea {w.attrs} rows="{rows}"{maxlength}{w.required}>{html(w.value)}</textarea>'


STRING = StringType()
EMAIL = EmailType()
TEXT = TextType()
