"""Values with a structure of their own: JSON documents, UUIDs."""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING, Any

from webapp.admin.types.base import CellRenderer, FieldError, FieldType
from webapp.admin.types.text import TextType

if TYPE_CHECKING:
    from webapp.admin.fields import Field


class JSONType(TextType):
    """A JSON document, typed into a textarea as indented JSON."""

    name = "json"

    def facts(self, column: Any) -> dict[str, Any]:
        return {}

    def parse_text(self, field: Field, text: str) -> Any:
        try:
            return json.loads(text)
        except ValueError as exc:
            raise FieldError(f"Enter valid JSON ({exc.args[0].split(':')[0]}).") from None

    def input_text(self, field: Field, value: Any) -> str:
        return json.dumps(value, indent=2, ensure_ascii=False)

    def text(self, field: Field, value: Any) -> str:
        return json.dumps(value, ensure_ascii=False)

    def cell_renderer(self, site: Any, field: Field) -> CellRenderer:
        return FieldType.cell_renderer(self, site, field)  # a str value is a JSON string, shown quoted


class UUIDType(FieldType):
    name = "uuid"

    def parse_text(self, field: Field, text: str) -> Any:
        try:
            return uuid.UUID(text)
        except ValueError:
            raise FieldError("Enter a valid UUID.") from None

    def from_json(self, field: Field, value: Any) -> Any:
        return uuid.UUID(value)


JSON = JSONType()
UUID = UUIDType()
