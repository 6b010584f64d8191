"""Relations: a many-to-one (a foreign key column) and a many-to-many collection. Their values are related
records' keys in forms and JSON, links in cells, and labels in CSV."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from markupsafe import Markup, escape
from sqlalchemy import inspect

from webapp.admin.keys import url_segment
from webapp.admin.samples import DETAIL_ITEMS, LIST_ITEMS, sample_of
from webapp.admin.types.base import (
    EMPTY,
    CellRenderer,
    FieldError,
    FieldType,
    RawValue,
    WidgetInput,
    html,
    to_json,
    truncated,
)
from webapp.admin.widgets import EMPTY_CHOICE, links_widget, lookup_html

if TYPE_CHECKING:
    from webapp.admin.fields import Field

BIGINT_MAX = 2**63 - 1


class RelationType(FieldType):
    is_relation = True

    def parse_key(self, field: Field, text: str) -> Any:
        """A related row's primary key as its column type; whether the row exists is checked by the form."""
        pk_type = _pk_python_type(field.related_model)
        try:
            if pk_type is int:
                if not re.fullmatch(r"[+-]?\d+", text.strip()):
                    raise ValueError(text)
                value = int(text)
                if abs(value) > BIGINT_MAX:
                    raise ValueError(text)
                return value
            if pk_type is uuid.UUID:
                return uuid.UUID(text)
        except ValueError:
            raise FieldError(f"Select a valid choice. {text} is not one of the available choices.") from None
        return text

    def key_from_json(self, field: Field, key: Any) -> Any:
        return uuid.UUID(key) if _pk_python_type(field.related_model) is uuid.UUID else key

    def lookup_widget(self, field: Field, w: WidgetInput, **options: Any) -> str:
        return lookup_html(
            w.site.admin_for(field.related_model),
            w.id,
            aria_label=field.label if w.compact else "",
            results_label=field.label,
            described=f"{w.id}-error" if w.error else "",
            invalid=w.error is not None,
            autofocus=w.autofocus,
            **options,
        )


class ForeignKeyType(RelationType):
    """A many-to-one: a select of the related records, or an autocomplete when there are many of them."""

    name = "foreign_key"
    filter = "related"

    def parse_text(self, field: Field, text: str) -> Any:
        return self.parse_key(field, text)

    def widget(self, field: Field, w: WidgetInput) -> str:
        if field.name in w.form.lookups:
            chosen = w.form.lookups[field.name]
            hidden = f'<input type="hidden" name="{html(field.name)}" value="{html(w.value)}" id="{html(w.id)}-value">'
            current = chosen[0][1] if chosen else ""
            return hidden + "\n" + self.lookup_widget(field, w, value_selector=f"#{w.id}-value", current=current)
        options = "".join(
            f'<option value="{html(key)}"{" selected" if w.value == key else ""}>{html(label)}</option>'
            for key, label in w.form.choices.get(field.name, [])
        )
        return f"<select {w.attrs}{w.required}>\n{EMPTY_CHOICE}\n{options}</select>"

    def cell(self, site: Any, field: Field, obj: Any, *, truncate: bool = False) -> Markup:
        related = getattr(obj, field.relationship) if field.relationship else None
        return Markup(EMPTY) if related is None else link(site, related, truncate=truncate)

    def cell_renderer(self, site: Any, field: Field) -> CellRenderer:
        # `links` holds the related records' links drawn so far on this page (by object: the session gives
        # each row one object), so the ten owners of fifty items are drawn ten times (bench: list-page).
        relationship, draw = field.relationship, linker(site, field.related_model)

        def related(obj: Any, links: dict[int, str]) -> str:
            value = getattr(obj, relationship) if relationship else None
            if value is None:
                return EMPTY
            drawn = links.get(id(value))
            if drawn is None:
                drawn = links[id(value)] = draw(value)
            return drawn

        return related

    def export_text(self, site: Any, field: Field, obj: Any) -> str:
        related = getattr(obj, field.relationship) if field.relationship else None
        return "" if related is None else site.label(related)

    def from_json(self, field: Field, value: Any) -> Any:
        return self.key_from_json(field, value)


class ManyToManyType(RelationType):
    """A collection: a multiple select, or chips with an autocomplete when there are many records, or past
    webapp.admin.links.CHIPS_LIMIT linked records a panel that posts changes only."""

    name = "many_to_many"
    blank_is_value = True
    many = True

    def parse(self, field: Field, raw: RawValue) -> Any:
        values = raw if isinstance(raw, list) else [raw]
        return [self.parse_key(field, v) for v in values if v.strip() != ""]

    def to_input(self, field: Field, value: Any) -> RawValue:
        return [str(_primary_key(obj)) for obj in value or ()]

    def widget(self, field: Field, w: WidgetInput) -> str:
        name = html(field.name)
        if field.name in w.form.link_panels:
            return links_widget(field, w, w.form.link_panels[field.name])
        if field.name in w.form.lookups:
            chips = "".join(
                f'<li><input type="hidden" name="{name}" value="{html(key)}">{html(text)} <button type="button"'
                f' data-chip-remove aria-label="Remove {html(text)}">\u00d7</button></li>'
                for key, text in w.form.lookups[field.name]
            )
            empty = f'<input type="hidden" name="{name}" value="">\n'
            listed = f'{empty}<ul class="chips" id="{html(w.id)}-chips">\n{chips}</ul>\n'
            return listed + self.lookup_widget(field, w, chips=f"#{w.id}-chips")
        chosen = w.form.selected(field.name)
        choices = w.form.choices.get(field.name, [])
        size = min(max(len(choices), 2), 4 if w.compact else 10)
        options = "".join(
            f'<option value="{html(key)}"{" selected" if key in chosen else ""}>{html(label)}</option>'
            for key, label in choices
        )
        return (
            f'<input type="hidden" name="{name}" value=""><select {w.attrs} multiple size="{size}">\n{options}</select>'
        )

    def cell(self, site: Any, field: Field, obj: Any, *, truncate: bool = False) -> Markup:
        # The first records only: a list row or a detail page reads no more of them (webapp.admin.samples).
        sample = sample_of(obj, field.name, LIST_ITEMS if truncate else DETAIL_ITEMS)
        if not sample.total:
            return Markup(EMPTY)
        links = [link(site, o, truncate=truncate) for o in sample.shown]
        return Markup(", ".join(links) + _more(sample.total, len(sample.shown)))

    def cell_renderer(self, site: Any, field: Field) -> CellRenderer:
        name, draw = field.name, linker(site, field.related_model)  # `links`: see ForeignKeyType

        def collection(obj: Any, links: dict[int, str]) -> str:
            sample = sample_of(obj, name, LIST_ITEMS)
            if not sample.total:
                return EMPTY
            out = []
            for value in sample.shown:
                drawn = links.get(id(value))
                if drawn is None:
                    drawn = links[id(value)] = draw(value)
                out.append(drawn)
            return ", ".join(out) + _more(sample.total, len(out))

        return collection

    def export_text(self, site: Any, field: Field, obj: Any) -> str:
        return ", ".join(site.label(o) for o in getattr(obj, field.name))

    def to_json(self, field: Field, obj: Any) -> Any:
        """The related keys, sorted: the history compares states, and a collection has no order."""
        return sorted(to_json(_primary_key(o)) for o in getattr(obj, field.name))

    def from_json(self, field: Field, value: Any) -> Any:
        return [self.key_from_json(field, key) for key in value]


def _more(total: int, shown: int) -> str:
    return f" and {total - shown:,} more" if total > shown else ""


def linker(site: Any, model: Any) -> Callable[[Any], str]:
    """A list cell's link to a related record (its label alone when its model has no admin, cut short as a
    cell's text is), worked out once per column."""
    admin = site.admin_for(model)
    if admin is None:
        return lambda obj: link(site, obj, truncate=True)
    prefix, key_of, label = html(admin.list_url), admin.key_of, admin.label

    def draw(obj: Any) -> str:
        if type(obj) is not model:  # a subclass may have an admin of its own
            return link(site, obj, truncate=True)
        return f'<a href="{prefix}{html(url_segment(key_of(obj)))}">{html(truncated(label(obj)))}</a>'

    return draw


def link(site: Any, obj: Any, *, truncate: bool = False) -> Markup:
    """A link to a record named by its label (`truncate`: cut short, for a list cell)."""
    admin = site.admin_for(type(obj))
    name = site.label(obj)
    label = escape(truncated(name) if truncate else name)
    if admin is None:
        return label
    # Both parts escaped by hand: Markup.format goes through string.Formatter, slow for hundreds of cells.
    return Markup(f'<a href="{escape(admin.url(admin.key_of(obj)))}">{label}</a>')


def _primary_key(obj: Any) -> Any:
    identity = inspect(obj).identity
    return identity[0] if identity and len(identity) == 1 else identity


def _pk_python_type(model: type | None) -> type:
    if model is None:
        return str
    (pk_column,) = inspect(model).primary_key
    try:
        return pk_column.type.python_type
    except NotImplementedError:
        return str


FOREIGN_KEY = ForeignKeyType()
MANY_TO_MANY = ManyToManyType()
