"""Form widgets, chosen by the field's kind: one source for full forms, list-row forms and the filter sidebar's
autocomplete.

Python rather than Jinja macros: an edit form draws one widget per field, and the macro calls (a new context,
attribute lookups through the sandbox-aware getattr, an escape per value) were a third of its render.
"""

from __future__ import annotations

from typing import Any

from markupsafe import Markup

from webapp.admin.display import html
from webapp.admin.fields import Field, Kind
from webapp.admin.forms import BoundForm

EMPTY_CHOICE = '<option value="">---------</option>'


def field_input(
    site: Any, field: Field, form: BoundForm, id: str, compact: bool = False, autofocus: bool = False
) -> Markup:
    """The input for `field` with what `form` holds for it, and its error message after it."""
    value = form.value(field.name)
    error = form.errors.get(field.name)
    name = html(field.name)
    attrs = f'id="{html(id)}" name="{name}"'
    if error:
        attrs += f' aria-invalid="true" aria-describedby="{html(id)}-error"'
    if autofocus:
        attrs += " autofocus"
    if compact:
        attrs += f' aria-label="{html(field.label)}"'
    required = "" if field.nullable else " required"
    kind = field.kind
    if kind is Kind.BOOLEAN:
        checked = " checked" if value == "true" else ""
        out = f'<input type="hidden" name="{name}" value="false"><input type="checkbox" {attrs} value="true"{checked}>'
    elif kind is Kind.NULLABLE_BOOLEAN:
        options = "".join(
            f'<option value="{key}"{" selected" if value == key else ""}>{text}</option>\n'
            for key, text in (("", "Unknown"), ("true", "Yes"), ("false", "No"))
        )
        out = f"<select {attrs}>\n{options}</select>"
    elif kind is Kind.ENUM:
        known = value in field.enum_values
        out = f"<select {attrs}{required}>\n"
        if field.nullable or not known:
            out += EMPTY_CHOICE
        out += "".join(
            f'<option value="{html(choice)}"{" selected" if value == choice else ""}>{html(choice)}</option>'
            for choice in field.enum_values
        )
        if value and not known:
            out += f'<option value="{html(value)}" selected>{html(value)}</option>'
        out += "</select>"
    elif kind is Kind.FOREIGN_KEY and field.name in form.lookups:
        chosen = form.lookups[field.name]
        out = f'<input type="hidden" name="{name}" value="{html(value)}" id="{html(id)}-value">\n' + _lookup(
            site.admin_for(field.related_model),
            id,
            value_selector=f"#{id}-value",
            aria_label=field.label if compact else "",
            results_label=field.label,
            current=chosen[0][1] if chosen else "",
            described=f"{id}-error" if error else "",
            invalid=error is not None,
            autofocus=autofocus,
        )
    elif kind is Kind.MANY_TO_MANY and field.name in form.lookups:
        chips = "".join(
            f'<li><input type="hidden" name="{name}" value="{html(key)}">{html(text)} <button type="button"'
            f' data-chip-remove aria-label="Remove {html(text)}">\u00d7</button></li>'
            for key, text in form.lookups[field.name]
        )
        out = (
            f'<input type="hidden" name="{name}" value="">\n<ul class="chips" id="{html(id)}-chips">\n{chips}</ul>\n'
        ) + _lookup(
            site.admin_for(field.related_model),
            id,
            chips=f"#{id}-chips",
            aria_label=field.label if compact else "",
            results_label=field.label,
            described=f"{id}-error" if error else "",
            invalid=error is not None,
            autofocus=autofocus,
        )
    elif kind is Kind.FOREIGN_KEY:
        options = "".join(
            f'<option value="{html(key)}"{" selected" if value == key else ""}>{html(label)}</option>'
            for key, label in form.choices.get(field.name, [])
        )
        out = f"<select {attrs}{required}>\n{EMPTY_CHOICE}\n{options}</select>"
    elif kind is Kind.MANY_TO_MANY:
        chosen_keys = form.selected(field.name)
        choices = form.choices.get(field.name, [])
        size = min(max(len(choices), 2), 4 if compact else 10)
        options = "".join(
            f'<option value="{html(key)}"{" selected" if key in chosen_keys else ""}>{html(label)}</option>'
            for key, label in choices
        )
        out = f'<input type="hidden" name="{name}" value=""><select {attrs} multiple size="{size}">\n{options}</select>'
    elif kind in (Kind.TEXT, Kind.JSON):
        maxlength = f' maxlength="{field.max_length}"' if field.max_length else ""
        rows = 2 if compact else 6
        out = f'<textarea {attrs} rows="{rows}"{maxlength}{required}>{html(value)}</textarea>'
    else:
        out = f'<input type="{html(field.input_type)}" {attrs} value="{html(value)}"'
        if field.max_length:
            out += f' maxlength="{field.max_length}"'
        if field.step:
            out += f' step="{html(field.step)}"'
        if field.min_value is not None:
            out += f' min="{html(field.min_value)}"'
        if field.max_value is not None:
            out += f' max="{html(field.max_value)}"'
        if field.input_type == "number":
            out += ' inputmode="decimal"'
        out += f"{required}>"
    if error:
        out += f'<span class="field-error" id="{html(id)}-error">{html(error)}</span>'
    return Markup(out)


def lookup(related_admin: Any, id: str, **options: Any) -> Markup:
    """Autocomplete over a related model's lookup URL (see `_lookup` for the options)."""
    return Markup(_lookup(related_admin, id, **options))


def _lookup(
    related_admin: Any,
    id: str,
    value_selector: str = "",
    submit: str = "",
    chips: str = "",
    label: str = "",
    aria_label: str = "",
    results_label: str = "",
    current: str = "",
    described: str = "",
    invalid: bool = False,
    autofocus: bool = False,
) -> str:
    """Autocomplete over a related model's lookup URL. A pick sets the element `value_selector` names (one key),
    or adds a chip to the list `chips` names (many keys); `submit` names a form to submit after. The list of
    results is named after `label`, `aria_label` or `results_label` (a field's visible label), else the model."""
    data = ""
    if value_selector:
        data += f' data-lookup-value="{html(value_selector)}"'
    if submit:
        data += f' data-lookup-submit="{html(submit)}"'
    if chips:
        data += f' data-lookup-chips="{html(chips)}"'
    id = html(id)
    out = f'<div class="lookup" data-lookup{data}>\n'
    if label:
        out += f'<label for="{id}">{html(label)}</label>'
    out += (
        f'  <input type="search" id="{id}" autocomplete="off" placeholder="Type to search'
        f' {html(related_admin.name_plural)}" value="{html(current)}"\n'
        f'    hx-get="{html(related_admin.list_url)}lookup" hx-trigger="input changed delay:250ms, focus"\n'
        f'    hx-vals=\'js:{{"q": event.target.value}}\' hx-target="#{id}-results" hx-swap="innerHTML"'
        ' hx-push-url="false" hx-sync="this:replace"\n'
        f'    role="combobox" aria-expanded="false" aria-controls="{id}-results" aria-autocomplete="list"'
    )
    if aria_label:
        out += f' aria-label="{html(aria_label)}"'
    if described:
        out += f' aria-describedby="{html(described)}"'
    if invalid:
        out += ' aria-invalid="true"'
    if autofocus:
        out += " autofocus"
    out += (
        " data-lookup-search>\n"
        f'  <div class="lookup-results" id="{id}-results" role="listbox"'
        f' aria-label="{html(label or aria_label or results_label or related_admin.name_plural.capitalize())}'
        ' results"></div>\n</div>'
    )
    return out
