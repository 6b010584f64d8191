"""Form inputs: the attributes and error message every input carries, around the control its field's type draws
(`FieldType.widget`); and the autocomplete that relation inputs and the filter sidebar share.

Python rather than Jinja macros: an edit form draws one widget per field, and the macro calls (a new context,
attribute lookups through the sandbox-aware getattr, an escape per value) were a third of its render.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from markupsafe import Markup

from webapp.admin.types.base import WidgetInput, html

if TYPE_CHECKING:
    from webapp.admin.fields import Field
    from webapp.admin.forms import BoundForm
    from webapp.admin.links import Panel

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
    placeholder: str = "",
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
        f'  <input type="search" id="{id}" autocomplete="off"'
        f' placeholder="{html(placeholder or f"Type to search {related_admin.name_plural}")}" value="{html(current)}"\n'
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


def links_widget(field: Field, w: WidgetInput, panel: Panel) -> str:
    """A collection linking too many records for chips (webapp.admin.links): their count and first names; an
    autocomplete whose picks post `<name>__add`; the linked records, searched and paged, to tick for
    `<name>__remove`. A list row's form shows the count only, and leaves the links as they are."""
    id, name, plural = html(w.id), html(field.name), html(panel.related_plural)
    shown = ", ".join(html(label) for label in panel.named)
    more = panel.total - len(panel.named)
    among = f", among them {shown}{f' and {more:,} more' if more > 0 else ''}" if shown else ""
    summary = (
        f'<p class="links-summary" id="{id}-summary"><strong>{panel.total:,}</strong> {plural} linked{among}.</p>\n'
    )
    if w.compact:
        change = f'<a href="{html(panel.edit_url)}">change them on its page</a>'
        return f'<div class="links links-compact" id="{id}">{summary.replace("</p>", f" ({change})</p>")}</div>'
    adding = "".join(
        f'<li><input type="hidden" name="{name}__add" value="{html(key)}">{html(label)} <button type="button"'
        f' data-chip-remove aria-label="Do not add {html(label)}">\u00d7</button></li>'
        for key, label in panel.adding
    )
    lookup = lookup_html(
        w.site.admin_for(field.related_model),
        w.id,
        chips=f"#{w.id}-adding",
        placeholder=f"Type to search {panel.related_plural} to add",
        described=f"{w.id}-error" if w.error else f"{w.id}-summary",
        invalid=w.error is not None,
        autofocus=w.autofocus,
    )
    removing = "".join(_linked_item(name, key, label, checked=True) for key, label in panel.removing)
    query = panel.linked.query
    return (
        f'<div class="links" id="{id}-panel">\n{summary}'
        f'<input type="hidden" name="{name}__add" value="">\n'
        f'<ul class="chips" id="{id}-adding" aria-label="{plural.capitalize()} to add">{adding}</ul>\n{lookup}\n'
        f'<fieldset class="links-linked">\n<legend>Remove linked {plural}</legend>\n'
        f'<ul class="links-list links-removing" id="{id}-removing" aria-label="{plural.capitalize()} to remove">'
        f"{removing}</ul>\n"
        f'<div class="links-search"><input type="search" id="{id}-q" name="{name}__q" form="{id}-links"'
        f' value="{html(query)}" placeholder="Search linked {plural}" aria-label="Search linked {plural}"'
        f' hx-get="{html(_fragment_url(panel, w.id))}" hx-trigger="input changed delay:250ms"'
        f' hx-target="#{id}-linked" hx-swap="outerHTML" hx-push-url="false" hx-sync="this:replace">'
        f' <button type="submit" form="{id}-links">Search</button></div>\n'
        f"{linked_list(field.name, w.id, panel)}\n</fieldset>\n</div>"
    )


def linked_list(name: str, id: str, panel: Panel) -> str:
    """One page of the linked records with a box each to tick for removal, and buttons to the pages beside it:
    the part of the panel its search and pages swap (for htmx, the fragment `GET .../links/<name>`)."""
    linked, plural = panel.linked, html(panel.related_plural)
    items = "".join(_linked_item(html(name), key, label) for key, label in linked.items)
    if not items:
        empty = f"No linked {plural} match “{html(linked.query)}”." if linked.query else f"No linked {plural}."
        items = f'<li class="muted">{empty}</li>'
    pages = ""
    for page, text, shown in (
        (linked.page - 1, "Previous", linked.page > 1),
        (linked.page + 1, "Next", linked.has_more),
    ):
        if shown:
            # The page in htmx's URL: a button's own name and value are sent only as a form's submitter.
            url = html(f"{_fragment_url(panel, id)}&{urlencode({f'{name}__page': page})}")
            pages += (
                f' <button type="submit" form="{html(id)}-links" name="{html(name)}__page" value="{page}"'
                f' hx-get="{url}" hx-include="#{html(id)}-q" hx-target="#{html(id)}-linked" hx-swap="outerHTML"'
                f' hx-push-url="false">{text}</button>'
            )
    first = linked.offset + 1
    position = f"{first:,}\u2013{first + len(linked.items) - 1:,}" if linked.items else ""
    if position and not linked.query:
        position += f" of {panel.total:,}"
    pager = f'<p class="links-pager">{position}{pages}</p>' if pages else ""
    return (
        f'<div class="links-page" id="{html(id)}-linked" data-links-linked="#{html(id)}-removing">'
        f'<ul class="links-list">{items}</ul>{pager}</div>'
    )


def links_search_form(panel: Panel, id: str) -> Markup:
    """The GET form the panel's search and pages submit (the `form` attribute joins them to it), drawn after
    the record's form: forms do not nest. Without JavaScript it reloads the edit page on the list's page."""
    return Markup(
        f'<form id="{html(id)}-links" method="get" action="{html(panel.edit_url)}#{html(id)}-panel"'
        f' hx-get="{html(_fragment_url(panel, id))}" hx-target="#{html(id)}-linked" hx-swap="outerHTML"'
        ' hx-push-url="false"></form>'
    )


def _linked_item(name: str, key: str, label: str, *, checked: bool = False) -> str:
    return (
        f'<li><label><input type="checkbox" name="{name}__remove" value="{html(key)}"'
        f"{' checked' if checked else ''}> {html(label)}</label></li>"
    )


def _fragment_url(panel: Panel, id: str) -> str:
    return f"{panel.url}?{urlencode({'id': id})}"
