"""Forms too big to read: refused with a 413 before they cost memory, and before anything is written.

Litestar does most of it. The admin's router sets `request_max_body_size`: a Content-Length over it is refused
before a byte is read, and a body streamed without one (chunked) is counted as it arrives and refused as soon as
it passes the limit, never buffered whole. A single huge field is a huge body. Litestar's multipart parser
counts parts (`multipart_form_part_limit`, an app-wide setting, so it is passed here instead) and reports too
many as a 400; its URL-encoded parser counts nothing. `FormLimits` reads a form once, up front, with both
counts, and leaves what it read where Litestar looks for it, so the CSRF check and the handler reuse it.
"""

from __future__ import annotations

from litestar._multipart import parse_multipart_form
from litestar.enums import RequestEncodingType
from litestar.exceptions import ClientException, ValidationException
from litestar.exceptions.http_exceptions import RequestEntityTooLarge
from litestar.types import ASGIApp, Receive, Scope, Send
from litestar.utils.scope.state import ScopeState
from multipart import ParserLimitReached

from webapp.admin.db import SAFE_METHODS

# A form's size by default: a form a person fills in is a few kilobytes; the admin takes no file uploads.
MAX_FORM_BYTES = 1024 * 1024
# Fields in one form by default: a bulk action posts one per ticked row and the longest page holds fewer; a
# record's many-to-many field posts one per linked record up to webapp.admin.links.CHIPS_LIMIT, and past it
# only its changes.
MAX_FORM_FIELDS = 1000


class FormTooLarge(RequestEntityTooLarge):
    """A 413 that says which of the admin's limits the form is over."""


def too_large(max_bytes: int) -> FormTooLarge:
    return FormTooLarge(f"This form is larger than the admin accepts ({_size(max_bytes)}); nothing was saved.")


def too_many_fields(max_fields: int) -> FormTooLarge:
    return FormTooLarge(f"This form has more fields than the admin accepts ({max_fields:,}); nothing was saved.")


def _size(n: int) -> str:
    for unit, scale in (("MiB", 1024 * 1024), ("KiB", 1024)):
        if n >= scale:
            return f"{n / scale:g} {unit}"
    return f"{n:,} bytes"


class FormLimits:
    """Reads an unsafe request's form with the admin's limits (see the module's docstring)."""

    def __init__(self, app: ASGIApp, max_bytes: int, max_fields: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_fields = max_fields

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] not in SAFE_METHODS:
            try:
                await self._read_form(scope, receive)
            except FormTooLarge:
                raise
            except RequestEntityTooLarge:  # Litestar's own: the body is over request_max_body_size
                raise too_large(self.max_bytes) from None
        await self.app(scope, receive, send)

    async def _read_form(self, scope: Scope, receive: Receive) -> None:
        request = scope["litestar_app"].request_class(scope=scope, receive=receive)
        content_type, options = request.content_type
        if content_type == RequestEncodingType.URL_ENCODED:
            # Fields are separated by "&": counted in the bytes, before any is decoded.
            if (await request.body()).count(b"&") >= self.max_fields:
                raise too_many_fields(self.max_fields)
        elif content_type == RequestEncodingType.MULTI_PART:
            boundary = options.get("boundary")
            if boundary is None:
                raise ValidationException("multipart boundary missing in Content-Type")
            try:
                form = await parse_multipart_form(
                    stream=request.stream(), boundary=boundary.encode(), multipart_form_part_limit=self.max_fields
                )
            except ClientException as exc:
                # Litestar reports the parser's limits as a 400 (a 413 from its version 3 on, it says).
                limit = exc.__context__
                if isinstance(limit, ParserLimitReached) and "count" in str(limit):
                    raise too_many_fields(self.max_fields) from None
                if isinstance(limit, ParserLimitReached):  # a part's headers: nothing a browser sends
                    raise FormTooLarge(
                        "A part of this form is larger than the admin accepts; nothing was saved."
                    ) from None
                raise
            ScopeState.from_scope(scope).form = form


__all__ = ["MAX_FORM_BYTES", "MAX_FORM_FIELDS", "FormLimits"]
