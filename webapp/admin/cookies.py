"""Set-Cookie headers from a template, for the admin's cookies whose value alone varies (the session id, the
messages).

Litestar builds each header anew through `dataclasses.asdict` and `http.cookies.SimpleCookie`, about 25 µs per
cookie per response (bench/README.md, "Measured choices"). A `CookieTemplate` builds it once, around a
placeholder, and puts each value in the placeholder's place when SimpleCookie would write that value as it is; any
other value (one it would quote: a space, a quote, a semicolon, an empty value) gets Litestar's own header.
Guarded by tests/test_cookies.py (the header is Litestar's own, value by value).
"""

from __future__ import annotations

import dataclasses
import re

from litestar.datastructures import Cookie

# Characters SimpleCookie writes unquoted (a subset of its legal ones): hex, base64url and the "." between parts.
_PLAIN = re.compile(r"[A-Za-z0-9_.\-]+")
_PLACEHOLDER = "0123456789abcdef"


class CookieTemplate:
    """The Set-Cookie header value of `cookie` (its key, path, flags and lifetime) with any value."""

    def __init__(self, cookie: Cookie) -> None:
        self.cookie = cookie
        before, found, after = self._built(_PLACEHOLDER).partition(f"={_PLACEHOLDER}")
        if not found:
            raise ValueError(f"cannot make a template of the {cookie.key!r} cookie's header")
        self._before, self._after = f"{before}=", after

    def header(self, value: str) -> str:
        if _PLAIN.fullmatch(value):
            return self._before + value + self._after
        return self._built(value)

    def _built(self, value: str) -> str:
        return dataclasses.replace(self.cookie, value=value).to_header(header="")
