"""The web app's safety rules, in one place.

- **Bind**: loopback only, unless a token is configured (`check_bind`).
- **Token**: when one is configured every request must carry it: the `qa_token` cookie (set by
  visiting any page with `?token=...` once), an `Authorization: Bearer ...` or an `X-QA-Token` header.
- **CSRF**: every state change is a POST carrying a `csrf` form field equal to the `qa_csrf` cookie
  (double submit; the cookie is `SameSite=Strict`, random per browser); POSTs from another origin
  are refused too. Everything else is 403.
- **Headers**: `Server-Timing: app;dur=MS` (time to the response's start), a Content-Security-Policy allowing only the app's own scripts, styles and media, no
  framing, no referrer to other sites (and a `?token=` address is redirected away at once).
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
import time
from urllib.parse import urlencode, urlsplit

from starlette.datastructures import URL
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from ..errors import ConfigError

__all__ = ["CSRF_COOKIE", "TOKEN_COOKIE", "SecurityMiddleware", "check_bind", "csrf_ok", "is_loopback"]

TOKEN_COOKIE = "qa_token"
CSRF_COOKIE = "qa_csrf"
TOKEN_ENV = "QA_SERVE_TOKEN"

SECURITY_HEADERS = {
    "content-security-policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "media-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "x-content-type-options": "nosniff",
    # same-origin, not no-referrer: with no-referrer Chromium sends "Origin: null" on the app's own POSTs
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
    "cache-control": "no-store",
}


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, token: str | None) -> None:
    """`ConfigError` for a non-loopback bind without a token (anyone on the network could read calls)."""
    if token is not None and len(token) < 16:
        raise ConfigError("the token must be at least 16 characters long (e.g. `python -c \"import secrets; "
                          "print(secrets.token_urlsafe())\"`)")
    if not is_loopback(host) and not token:
        raise ConfigError(f"refusing to listen on {host}: calls hold personal data, so a non-loopback address "
                          f"needs a token (--token or ${TOKEN_ENV}); or listen on 127.0.0.1")


def _same(a: str | None, b: str | None) -> bool:
    return bool(a) and bool(b) and hmac.compare_digest(a.encode(), b.encode())


def csrf_ok(request: Request, form_token: str | None) -> bool:
    """A POST's form token matches its cookie, and it does not come from another origin."""
    origin = request.headers.get("origin")
    if origin is not None and urlsplit(origin).netloc != request.headers.get("host", ""):
        return False  # another site's page, or an opaque ("null") origin
    return _same(request.cookies.get(CSRF_COOKIE), form_token)


class SecurityMiddleware:
    """Token check, the CSRF cookie and the security headers for every response (pure ASGI)."""

    def __init__(self, app: ASGIApp, *, token: str | None) -> None:
        self.app = app
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        if self.token:
            given = request.query_params.get("token")
            if given is not None:
                if not _same(given, self.token):
                    await self._send(PlainTextResponse("Forbidden: wrong token.", status_code=403), scope, receive,
                                     send)
                    return
                # log in: keep the token in a cookie and drop it from the address bar
                query = [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
                target = URL(scope=scope).replace(query=urlencode(query), scheme="", netloc="")
                response = RedirectResponse(str(target) or "/", status_code=303)
                response.set_cookie(TOKEN_COOKIE, self.token, httponly=True, samesite="strict",
                                    secure=scope.get("scheme") == "https")
                await self._send(response, scope, receive, send)
                return
            auth = request.headers.get("authorization", "")
            offered = (request.cookies.get(TOKEN_COOKIE) or request.headers.get("x-qa-token")
                       or (auth[7:] if auth.lower().startswith("bearer ") else None))
            if not _same(offered, self.token):
                await self._send(PlainTextResponse(
                    "This qa serve needs its token: open the address with ?token=... once, or send an "
                    "Authorization: Bearer header.", status_code=401), scope, receive, send)
                return
        csrf = request.cookies.get(CSRF_COOKIE)
        new_csrf = None if csrf else secrets.token_urlsafe(32)
        scope.setdefault("state", {})["csrf"] = csrf or new_csrf

        started = time.perf_counter()

        async def send_with_headers(message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                # how long the app took to make the response (benchmarks/web_bench.py reads it)
                took = (time.perf_counter() - started) * 1000
                headers.append((b"server-timing", f"app;dur={took:.1f}".encode()))
                present = {k.lower() for k, _ in headers}
                for name, value in SECURITY_HEADERS.items():
                    if name.encode() not in present:
                        headers.append((name.encode(), value.encode()))
                # only pages carry forms: set on a page, so that the stylesheet, script and audio requests
                # the page makes at once (without the cookie yet) do not each set a different token
                if new_csrf and any(k.lower() == b"content-type" and v.startswith(b"text/html") for k, v in headers):
                    cookie = Response()
                    cookie.set_cookie(CSRF_COOKIE, new_csrf, httponly=True, samesite="strict",
                                      secure=scope.get("scheme") == "https")
                    headers.extend(h for h in cookie.raw_headers if h[0] == b"set-cookie")
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)

    async def _send(self, response: Response, scope: Scope, receive: Receive, send: Send) -> None:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        await response(scope, receive, send)

