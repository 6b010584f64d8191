"""Messages for the next whole page ("The item “Lamp” was changed."), carried by a signed cookie.

A post that redirects leaves its message in the `<site>_messages` cookie; the next whole page shows it and
clears the cookie. Keeping messages out of the server-side session means a save is one write transaction and
the page after it none: the session row is written only when the session itself changes (sign-in, sign-out).
Django's CookieStorage does the same. The cookie is signed with the site's secret, so nobody can plant a message
(an "Undo" form pointing elsewhere) in someone's admin; it is HttpOnly, SameSite=Lax, sent only under the admin's
path, and Secure over HTTPS like every admin cookie (`sessions.SecureCookiesOverHttps`).

Guarded by tests/test_messages.py (a save writes no session row; a forged or stale cookie shows nothing).
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
from typing import Any

from litestar import Request
from litestar.datastructures import Cookie

from webapp.admin.cookies import CookieTemplate

# A browser keeps at most about 4 KB per cookie: the newest messages are kept within this, the oldest dropped.
MAX_COOKIE_BYTES = 3000
MAX_MESSAGES = 5
MAX_TEXT = 500  # characters of one message kept (a record's name may be long)


class MessageCookie:
    """Reads and writes one site's message cookie."""

    def __init__(self, name: str, path: str, secret: str) -> None:
        self.name = f"{name}_messages"
        self.path = path or "/"
        self._key = hashlib.sha256(b"admin messages\x00" + secret.encode()).digest()
        self._template = CookieTemplate(Cookie(key=self.name, path=self.path, httponly=True, samesite="lax"))
        self._cleared = dataclasses.replace(self._template.cookie, value="", max_age=0).to_header(header="")

    def leave(self, request: Request[Any, Any, Any], message: dict[str, Any]) -> str:
        """The Set-Cookie header that carries `message` to the next whole page, after those still waiting in
        the cookie."""
        message = {**message, "message": str(message.get("message", ""))[:MAX_TEXT]}
        waiting = [*self.read(request), message][-MAX_MESSAGES:]
        value = self._encode(waiting)
        while len(value) > MAX_COOKIE_BYTES and len(waiting) > 1:
            waiting = waiting[1:]
            value = self._encode(waiting)
        return self._template.header(value)

    def read(self, request: Request[Any, Any, Any]) -> list[dict[str, Any]]:
        """The messages waiting for this browser; none when the cookie is missing, altered or not ours."""
        raw = request.cookies.get(self.name)
        if not raw:
            return []
        payload, _, signature = raw.rpartition(".")
        if not payload or not hmac.compare_digest(signature, self._sign(payload)):
            return []
        try:
            messages = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        except ValueError:
            return []
        if not isinstance(messages, list):
            return []
        return [m for m in messages if isinstance(m, dict) and isinstance(m.get("message"), str)]

    def cleared(self) -> str:
        """The Set-Cookie header that deletes the cookie once its messages were shown."""
        return self._cleared

    def _encode(self, messages: list[dict[str, Any]]) -> str:
        data = json.dumps(messages, ensure_ascii=False, separators=(",", ":")).encode()
        payload = base64.urlsafe_b64encode(data).decode().rstrip("=")  # "=" would make the cookie a quoted one
        return f"{payload}.{self._sign(payload)}"

    def _sign(self, payload: str) -> str:
        return hmac.new(self._key, payload.encode(), hashlib.sha256).hexdigest()
