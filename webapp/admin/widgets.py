"""Form inputs: the attributes and error message every input carries, around the control its field's type draws
(`FieldType.widget`); and the autocomplete that relation inputs and the filter sidebar share.

Python rather than Jinja macros: an edit form draws one widget per field, and the macro calls (a new context,
attribute lookups through the sandbox-aware getattr, an escape per value) were a third of its render.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from markupsafe import Markup

from webapp.admin.types.base import WidgetInput, html

if TYPE_CHECKING:
    from webapp.admin.fields import Field
    from webapp.admin.forms import BoundForm

EMPTY_CHOICE = '<option value="">---------</option>'


def field_input(
    site: Any, field: Field, form: BoundForm, id: str, compact: bool = False, autofocus: bool = False
) -> Markup:
    """The input for `field` with what `form` holds for it, and its error message after it."""
    error = form.errors.get(field.name)
    attrs = f'id="{html(id)}" name="{html(field.name)}"'
    if error:
        attrs += f' aria-invalid="true" aria-describedby="{html(id)}-error"'
    if autofocus:
        attrs += " autofocus"
    if compact:
        attrs += f' aria-label="{html(field.label)}"'
    required = "" if field.nullable else " required"
    w = WidgetInput(site, form, id, form.value(field.name), attrs, required, compact, autofocus, error)
    out = field.type.widget(field, w)
    if error:
        out += f'<span class="field-error" id="{html(id)}-error">{html(error)}</span>'
    return Markup(out)


def lookup(related_admin: Any, id: str, **options: Any) -> Markup:
    """Autocomplete over a related model's lookup URL (see `lookup_html` for the options)."""
    return Markup(lookup_html(related_admin, id, **options))


def lookup_html(
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
