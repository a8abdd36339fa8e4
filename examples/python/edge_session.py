"""Origin middleware for edge-session: trust the worker's ``Edge-Session`` assertion,
answer with ``Edge-Session-Set`` / ``Edge-Session-Action``.

The worker (the edge) holds the session in a sealed cookie; the origin holds no
session state. On every request with a live session the worker sends a short-lived
JWT, ``Edge-Session``, signed with HS256 over ``ORIGIN_SECRET`` or with EdDSA
(verified through the worker's public ``/_session/jwks.json``). This module checks it
with PyJWT, never with code of its own, and gives the claims to the application:

- :class:`EdgeSession` verifies an assertion (``issuer``, ``audience``, algorithm
  allow-list of exactly one algorithm, a small ``leeway``).
- :class:`EdgeSessionMiddleware` (ASGI: FastAPI, Starlette) puts the claims on
  ``request.state.session``; :func:`current_session` and :func:`require_session` are
  FastAPI dependencies.
- :meth:`EdgeSession.init_app` (WSGI: Flask) puts them on ``flask.g.session``.
- :func:`set_session`, :func:`destroy_session`, :func:`revoke_session`,
  :func:`revoke_all` and :func:`rotate_session` set the response headers the worker
  acts on (and strips before the client sees the response).

Invariants:

- No ``Edge-Session`` header: the request is anonymous (``session`` is ``None``).
- An ``Edge-Session`` header that does not verify (forged, expired, wrong issuer or
  audience, two of them): ``401`` JSON ``{"error": "invalid_session", "reason": …}``
  and the application never runs. The worker drops any ``Edge-Session`` a client
  sends and signs a fresh one, so an invalid one means the request did not come
  through the worker (or the origin is configured unlike the worker: another
  secret, issuer or audience, or a clock far off). Refusing it loudly, instead of
  treating it as anonymous, makes that misconfiguration visible at once.
- The JWKS cannot be fetched (EdDSA): ``503`` ``{"error": "session_keys_unavailable"}``.
- No token, secret or claim value is ever put in an exception message, a log line
  or a ``repr``.

See the repository's README, "The edge ↔ origin contract", for the claims.
"""

from __future__ import annotations

import json
import logging
import unicodedata
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlparse

import jwt

try:  # The ASGI part needs Starlette (FastAPI brings it); the rest does not.
    from starlette.requests import HTTPConnection
except ImportError:  # pragma: no cover - Flask-only installs
    HTTPConnection = Any  # type: ignore[misc,assignment]

__all__ = [
    "EdgeSession",
    "EdgeSessionError",
    "EdgeSessionMiddleware",
    "InvalidAssertion",
    "KeysUnavailable",
    "current_session",
    "destroy_session",
    "require_session",
    "revoke_all",
    "revoke_session",
    "rotate_session",
    "set_session",
]

log = logging.getLogger("edge_session")

#: Request header carrying the worker's signed assertion.
ASSERTION_HEADER = "Edge-Session"
#: Response header creating or replacing the session (JSON).
SET_HEADER = "Edge-Session-Set"
#: Response header asking the worker for one action on the session.
ACTION_HEADER = "Edge-Session-Action"
#: The actions the worker knows.
ACTIONS = ("destroy", "revoke", "revoke-all", "rotate")
#: Largest ``Edge-Session-Set`` value the worker reads (``MAX_SET_HEADER``).
MAX_SET_HEADER = 64 * 1024
#: Largest ``sub`` the worker accepts, in UTF-8 bytes (``MAX_SUB_LEN``).
MAX_SUB_BYTES = 256
#: Shortest ``ORIGIN_SECRET`` the worker accepts, in bytes.
MIN_SECRET_BYTES = 32
#: Claims every assertion carries; one missing means it is not the worker's.
REQUIRED_CLAIMS = ("iss", "aud", "sub", "sid", "iat", "nbf", "exp")

_STATE_KEY = "session"


class EdgeSessionError(Exception):
    """Base class of this module's errors."""


class InvalidAssertion(EdgeSessionError):
    """The ``Edge-Session`` header is present but does not verify.

    ``kind`` says why, for logs and the ``401`` body: ``malformed``,
    ``bad_signature``, ``wrong_algorithm``, ``unknown_key``, ``expired``,
    ``not_yet_valid``, ``wrong_issuer``, ``wrong_audience``, ``missing_claim``,
    ``duplicate_header`` or ``invalid_claims``.
    """

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class KeysUnavailable(EdgeSessionError):
    """The worker's JWKS could not be fetched or holds no signing key (EdDSA only)."""


# PyJWT's exception types, most specific first, mapped to our kinds. PyJWT's own
# messages are not passed on: ours say what was expected and never quote the token.
_KINDS: tuple[tuple[type[Exception], str, str], ...] = (
    (jwt.ExpiredSignatureError, "expired", "the Edge-Session assertion has expired"),
    (
        jwt.ImmatureSignatureError,
        "not_yet_valid",
        "the Edge-Session assertion is not valid yet (nbf or iat in the future)",
    ),
    (jwt.InvalidAudienceError, "wrong_audience", "the Edge-Session assertion is for another audience"),
    (jwt.InvalidIssuerError, "wrong_issuer", "the Edge-Session assertion comes from another issuer"),
    (jwt.MissingRequiredClaimError, "missing_claim", "the Edge-Session assertion lacks a required claim"),
    (
        jwt.InvalidAlgorithmError,
        "wrong_algorithm",
        "the Edge-Session assertion is signed with an algorithm not allowed here",
    ),
    (jwt.InvalidSignatureError, "bad_signature", "the Edge-Session assertion's signature does not verify"),
    (jwt.DecodeError, "malformed", "the Edge-Session header is not a well-formed JWS"),
    (jwt.InvalidTokenError, "invalid_claims", "the Edge-Session assertion's claims are not valid"),
)


def _invalid(err: Exception) -> InvalidAssertion:
    for cls, kind, message in _KINDS:
        if isinstance(err, cls):
            return InvalidAssertion(kind, message)
    return InvalidAssertion("malformed", "the Edge-Session header could not be read")


class EdgeSession:
    """Verifies the worker's ``Edge-Session`` assertion with PyJWT.

    Give exactly one of ``secret`` (the worker's ``ORIGIN_SECRET``; HS256, the
    worker's default ``ASSERTION_ALG``) or ``jwks_url`` (the worker's
    ``https://your.site/_session/jwks.json``; EdDSA, for ``ASSERTION_ALG=EdDSA``, so
    the origin holds no secret; needs the ``cryptography`` package). The algorithm
    allow-list is exactly that one algorithm.

    ``issuer`` and ``audience`` must match the worker's ``ISSUER`` and
    ``ORIGIN_AUDIENCE``. ``leeway`` (seconds, default 5) allows for clock skew
    between the edge and the origin; the assertion itself lives ``ASSERTION_TTL``
    (60 s by default). ``jwks_lifespan`` (seconds, default 300, the JWKS's own
    ``max-age``) is how long the key set is cached; an unknown ``kid`` refetches it
    (at most every 30 s), so a rotated key is picked up without a restart.

    Example::

        edge = EdgeSession(secret=os.environ["ORIGIN_SECRET"])
        claims = edge.verify(token)   # dict, or raises InvalidAssertion

    Raises ``ValueError`` (naming the parameter, never its value) for bad settings.
    """

    def __init__(
        self,
        *,
        secret: str | bytes | None = None,
        jwks_url: str | None = None,
        issuer: str = "edge-session",
        audience: str = "origin",
        leeway: float = 5,
        jwks_lifespan: float = 300,
    ) -> None:
        if (secret is None) == (jwks_url is None):
            raise ValueError("EdgeSession needs exactly one of secret= (HS256) or jwks_url= (EdDSA)")
        if not isinstance(issuer, str) or not issuer:
            raise ValueError("EdgeSession issuer= must be a non-empty string (the worker's ISSUER)")
        if not isinstance(audience, str) or not audience:
            raise ValueError("EdgeSession audience= must be a non-empty string (the worker's ORIGIN_AUDIENCE)")
        if isinstance(leeway, bool) or not isinstance(leeway, (int, float)) or not 0 <= leeway <= 300:
            raise ValueError("EdgeSession leeway= must be a number of seconds from 0 to 300")
        self.issuer = issuer
        self.audience = audience
        self.leeway = leeway
        self._key: bytes | None = None
        self._jwks: jwt.PyJWKClient | None = None
        if secret is not None:
            key = secret.encode("utf-8") if isinstance(secret, str) else secret
            if not isinstance(key, bytes):
                raise ValueError("EdgeSession secret= must be str or bytes (the worker's ORIGIN_SECRET)")
            if len(key) < MIN_SECRET_BYTES:
                raise ValueError(
                    f"EdgeSession secret= is {len(key)} bytes; the worker's ORIGIN_SECRET "
                    f"is at least {MIN_SECRET_BYTES}: pass the same value"
                )
            self._key = key
            self.algorithm = "HS256"
        else:
            parsed = urlparse(jwks_url) if isinstance(jwks_url, str) else None
            # Whoever can change the key set can forge every session: plain http only
            # to this machine (local development, the tests).
            loopback = parsed is not None and parsed.hostname in ("localhost", "127.0.0.1", "::1")
            if parsed is None or not (parsed.scheme == "https" or (parsed.scheme == "http" and loopback)):
                raise ValueError(
                    "EdgeSession jwks_url= must be an https URL (http only to localhost): the worker's /_session/jwks.json"
                )
            self._jwks = jwt.PyJWKClient(jwks_url, lifespan=jwks_lifespan)
            self.jwks_url = jwks_url
            self.algorithm = "EdDSA"

    def __repr__(self) -> str:
        via = f"jwks_url={self.jwks_url!r}" if self._jwks else "secret=<redacted>"
        return f"EdgeSession({via}, algorithm={self.algorithm!r}, issuer={self.issuer!r}, audience={self.audience!r})"

    @property
    def fetches_keys(self) -> bool:
        """Whether :meth:`verify` may block on the network (EdDSA: the JWKS)."""
        return self._jwks is not None

    def verify(self, token: str | bytes) -> dict[str, Any]:
        """The verified claims of an ``Edge-Session`` assertion.

        Checks the signature first (with the one allowed algorithm), then ``exp``,
        ``nbf``, ``iat``, ``iss``, ``aud`` and that every claim in
        :data:`REQUIRED_CLAIMS` is there.

        Raises :class:`InvalidAssertion` when it does not verify and
        :class:`KeysUnavailable` when the JWKS cannot be read. May block on the
        network to fetch the JWKS (EdDSA; cached): from async code, call it in a
        thread, as :class:`EdgeSessionMiddleware` does.
        """
        if isinstance(token, bytes):
            try:
                token = token.decode("ascii")
            except UnicodeDecodeError:
                raise InvalidAssertion("malformed", "the Edge-Session header is not ASCII") from None
        key = self._key if self._jwks is None else self._jwks_key(token)
        try:
            return jwt.decode(
                token,
                key,
                algorithms=[self.algorithm],
                issuer=self.issuer,
                audience=self.audience,
                leeway=self.leeway,
                options={"require": list(REQUIRED_CLAIMS)},
            )
        except jwt.PyJWTError as err:
            raise _invalid(err) from None

    def _jwks_key(self, token: str) -> jwt.PyJWK:
        assert self._jwks is not None
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as err:
            raise _invalid(err) from None
        if header.get("alg") != self.algorithm:
            raise InvalidAssertion("wrong_algorithm", "the Edge-Session assertion is not signed with EdDSA")
        kid = header.get("kid")
        if not isinstance(kid, str):
            raise InvalidAssertion("unknown_key", "the Edge-Session assertion names no key (kid)")
        try:
            self._jwks.get_signing_keys()  # the cached set; a failure here is ours, not the token's
        except jwt.PyJWTError as err:
            log.error("edge_session: the JWKS at %s cannot be used: %s", self.jwks_url, type(err).__name__)
            raise KeysUnavailable("the worker's JWKS cannot be fetched or holds no signing key") from None
        try:
            return self._jwks.get_signing_key(kid)
        except (jwt.PyJWKClientConnectionError, jwt.PyJWKSetError):
            log.error("edge_session: the JWKS at %s could not be refreshed", self.jwks_url)
            raise KeysUnavailable("the worker's JWKS cannot be fetched") from None
        except jwt.PyJWTError:
            raise InvalidAssertion(
                "unknown_key", "the Edge-Session assertion's kid is not in the worker's JWKS"
            ) from None

    def claims_for(self, values: list[str] | list[bytes]) -> dict[str, Any] | None:
        """The claims for a request's ``Edge-Session`` header values: ``None`` when
        there is none, the verified claims for one; :class:`InvalidAssertion` for
        two or more (the worker sends exactly one) or one that does not verify."""
        if not values:
            return None
        if len(values) > 1:
            raise InvalidAssertion("duplicate_header", "the request carries more than one Edge-Session header")
        return self.verify(values[0])

    # --- Flask (WSGI) -------------------------------------------------------------

    def init_app(self, app: Any) -> None:
        """Flask integration: before each request, ``flask.g.session`` is set to the
        verified claims, or ``None`` when the request is anonymous; an invalid
        assertion answers ``401`` (``503`` when the JWKS is unavailable) before any
        view runs.

        Example::

            edge = EdgeSession(secret=os.environ["ORIGIN_SECRET"])
            edge.init_app(app)
        """
        from flask import g, request

        def load_edge_session() -> Any:
            g.session = None
            try:
                g.session = self.claims_for(request.headers.getlist(ASSERTION_HEADER))
            except EdgeSessionError as err:
                status, headers, body = _refusal(err)
                return app.response_class(body, status=status, headers=headers)
            return None

        app.extensions["edge_session"] = self
        app.before_request(load_edge_session)


# --- ASGI (FastAPI, Starlette) --------------------------------------------------


class EdgeSessionMiddleware:
    """ASGI middleware: ``request.state.session`` (and ``websocket.state.session``)
    is the verified claims, or ``None`` when the request is anonymous.

    An invalid assertion answers ``401`` JSON (``503`` when the JWKS is unavailable)
    and the application never sees the request; a WebSocket handshake with one is
    closed before it is accepted (code 1008, which servers send as ``403``).

    Example::

        app = FastAPI()
        app.add_middleware(EdgeSessionMiddleware, edge=EdgeSession(secret=...))

    A pure ASGI middleware (no ``BaseHTTPMiddleware``), so streaming responses and
    background tasks are untouched.
    """

    def __init__(self, app: Any, edge: EdgeSession) -> None:
        if not isinstance(edge, EdgeSession):
            raise TypeError("EdgeSessionMiddleware needs edge=EdgeSession(...)")
        self.app = app
        self.edge = edge

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        values = [v for k, v in scope["headers"] if k.lower() == b"edge-session"]
        try:
            if values and self.edge.fetches_keys:
                from anyio.to_thread import run_sync  # Starlette's own dependency

                claims = await run_sync(self.edge.claims_for, values)
            else:
                claims = self.edge.claims_for(values)
        except EdgeSessionError as err:
            if scope["type"] == "websocket":
                _log_refusal(err)
                await send({"type": "websocket.close", "code": 1008, "reason": "invalid session"})
                return
            status, headers, body = _refusal(err)
            await send(
                {
                    "type": "http.response.start",
                    "status": status,
                    "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]
                    + [(b"content-length", str(len(body)).encode("latin-1"))],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        scope.setdefault("state", {})[_STATE_KEY] = claims
        await self.app(scope, receive, send)


def current_session(conn: HTTPConnection) -> dict[str, Any] | None:
    """FastAPI dependency: the verified claims, or ``None`` when anonymous.

    Example::

        @app.get("/me")
        def me(session: dict | None = Depends(current_session)): ...
    """
    state = conn.scope.get("state", {})
    if _STATE_KEY not in state:
        raise RuntimeError("current_session: EdgeSessionMiddleware is not installed on this app")
    return state[_STATE_KEY]


def require_session(conn: HTTPConnection) -> dict[str, Any]:
    """FastAPI dependency: the verified claims; an anonymous request gets ``401``."""
    claims = current_session(conn)
    if claims is None:
        from starlette.exceptions import HTTPException

        raise HTTPException(status_code=401, detail="login required", headers={"WWW-Authenticate": "Edge-Session"})
    return claims


def _log_refusal(err: EdgeSessionError) -> None:
    if isinstance(err, InvalidAssertion):
        log.warning("edge_session: refused an Edge-Session assertion (%s)", err.kind)


def _refusal(err: EdgeSessionError) -> tuple[int, dict[str, str], bytes]:
    """The one place errors become HTTP answers: status, headers, JSON body."""
    _log_refusal(err)
    headers = {"Content-Type": "application/json", "Cache-Control": "no-store"}
    if isinstance(err, InvalidAssertion):
        headers["WWW-Authenticate"] = 'Edge-Session error="invalid_token"'
        body = {"error": "invalid_session", "reason": err.kind, "message": str(err)}
        return 401, headers, json.dumps(body).encode("ascii")
    body = {"error": "session_keys_unavailable", "message": str(err)}
    return 503, headers, json.dumps(body).encode("ascii")


# --- Verbs: response headers the worker acts on ------------------------------------


def set_session(response: Any, sub: str, data: Mapping[str, Any] | None = None, ttl: int | None = None) -> Any:
    """Logs ``sub`` in: ``Edge-Session-Set: {"sub": …, "data": {…}, "ttl": …}``.

    A new session (new ``sid``), or, when the request's session already is ``sub``'s,
    the same session with this ``data``. ``data`` is any JSON object (non-ASCII is
    escaped, so it travels safely in a header); ``ttl`` (seconds, at least 1, at
    most the worker's ``SESSION_ABSOLUTE_TTL``) shortens the session's lifetime.
    Works on any response with ``.headers`` (Starlette/FastAPI, Flask/Werkzeug) and
    returns it. Call :func:`rotate_session` too after a privilege change.

    Raises ``ValueError``/``TypeError`` for what the worker would refuse: an empty
    ``sub``, one over 256 bytes or with control characters, ``data`` that is not a
    JSON object (non-string keys, NaN, sets…), a header over 64 KiB.
    """
    if not isinstance(sub, str):
        raise TypeError(f"set_session: sub must be a str, not {type(sub).__name__}")
    size = len(sub.encode("utf-8"))
    if not 1 <= size <= MAX_SUB_BYTES:
        raise ValueError(f"set_session: sub is {size} bytes; it must be 1 to {MAX_SUB_BYTES}")
    at = next((i for i, c in enumerate(sub) if unicodedata.category(c) == "Cc"), None)
    if at is not None:
        raise ValueError(f"set_session: sub has a control character at index {at}")
    payload: dict[str, Any] = {"sub": sub}
    if data is not None:
        if not isinstance(data, Mapping):
            raise TypeError(f"set_session: data must be a mapping (a JSON object), not {type(data).__name__}")
        bad = next((k for k in data if not isinstance(k, str)), None)
        if bad is not None:
            raise TypeError(f"set_session: data keys must be str, found a {type(bad).__name__} key")
        payload["data"] = dict(data)
    if ttl is not None:
        if isinstance(ttl, bool) or not isinstance(ttl, int) or ttl < 1:
            raise ValueError("set_session: ttl must be a whole number of seconds, at least 1")
        payload["ttl"] = ttl
    try:
        value = json.dumps(payload, ensure_ascii=True, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as err:
        raise TypeError(f"set_session: data is not JSON-serializable: {type(err).__name__}") from None
    if len(value) > MAX_SET_HEADER:
        raise ValueError(
            f"set_session: Edge-Session-Set would be {len(value)} bytes; the worker reads at most {MAX_SET_HEADER}"
        )
    _refuse_set_with_clearing(response.headers.get(ACTION_HEADER))
    response.headers[SET_HEADER] = value
    return response


# Actions that end the session: with set_session on the same response the worker
# would log the user in and at once out again (it applies the Set first).
_CLEARING = ("destroy", "revoke", "revoke-all")


def _refuse_set_with_clearing(action: str | None) -> None:
    if action in _CLEARING:
        raise ValueError(
            f"set_session with Edge-Session-Action {action!r} on one response would log the user "
            "in and straight out again; send the action and the login on separate responses"
        )


def _act(response: Any, action: str) -> Any:
    current = response.headers.get(ACTION_HEADER)
    if current is not None and current != action:
        raise ValueError(
            f"Edge-Session-Action is already {current!r}; a response carries one action, not also {action!r}"
        )
    if response.headers.get(SET_HEADER) is not None:
        _refuse_set_with_clearing(action)
    response.headers[ACTION_HEADER] = action
    return response


def destroy_session(response: Any) -> Any:
    """Clears the session cookies in this browser (``Edge-Session-Action: destroy``).

    Copies of the cookie stay valid until they expire: for a logout, prefer
    :func:`revoke_session`. Returns ``response``."""
    return _act(response, "destroy")


def revoke_session(response: Any) -> Any:
    """Logs out: clears the cookies and denylists the session id, so copies die too
    (``Edge-Session-Action: revoke``). Returns ``response``."""
    return _act(response, "revoke")


def revoke_all(response: Any) -> Any:
    """Signs the user out everywhere: every session of the request's ``sub``
    (``Edge-Session-Action: revoke-all``). Returns ``response``."""
    return _act(response, "revoke-all")


def rotate_session(response: Any) -> Any:
    """Gives the session a new id and denylists the old one, keeping user and data
    (``Edge-Session-Action: rotate``): after login or a privilege change. May be
    combined with :func:`set_session` (applied first). Returns ``response``."""
    return _act(response, "rotate")
