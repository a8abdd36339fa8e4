"""Unit tests of edge_session.py (stdlib unittest, no network but a local JWKS server).

    .venv/bin/python -m unittest -v test_edge_session

tests/e2e/middleware-python.test.mjs runs them, then the example apps behind the worker.
"""

import asyncio
import http.server
import json
import logging
import threading
import time
import unittest

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Flask, g, jsonify
from starlette.responses import Response as StarletteResponse

import edge_session as es

logging.getLogger("edge_session").addHandler(logging.NullHandler())  # quiet; assertLogs still sees it

SECRET = "s" * 64
OTHER = "o" * 64
SID = "AAECAwQFBgcICQoLDA0ODw"


def claims(**over):
    now = int(time.time())
    base = {"iss": "edge-session", "aud": "origin", "sub": "alice", "sid": SID, "iat": now, "nbf": now, "exp": now + 60}
    base.update(over)
    return {k: v for k, v in base.items() if v is not None}


def hs(body, key=SECRET, alg="HS256", headers=None):
    return jwt.encode(body, key.encode(), algorithm=alg, headers=headers)


class Settings(unittest.TestCase):
    def test_exactly_one_of_secret_or_jwks_url(self):
        with self.assertRaisesRegex(ValueError, "exactly one"):
            es.EdgeSession()
        with self.assertRaisesRegex(ValueError, "exactly one"):
            es.EdgeSession(secret=SECRET, jwks_url="https://x/_session/jwks.json")

    def test_short_secret_is_refused_without_showing_it(self):
        with self.assertRaises(ValueError) as ctx:
            es.EdgeSession(secret="short-secret-value")
        self.assertIn("18 bytes", str(ctx.exception))
        self.assertNotIn("short-secret-value", str(ctx.exception))

    def test_repr_redacts_the_secret(self):
        self.assertNotIn(SECRET, repr(es.EdgeSession(secret=SECRET)))
        self.assertIn("<redacted>", repr(es.EdgeSession(secret=SECRET)))

    def test_jwks_url_must_be_https_or_local_http(self):
        for url in ("file:///etc/passwd", "http://keys.example/_session/jwks.json"):
            with self.assertRaisesRegex(ValueError, "jwks_url"):
                es.EdgeSession(jwks_url=url)
        for url in ("https://keys.example/_session/jwks.json", "http://127.0.0.1:8787/_session/jwks.json"):
            es.EdgeSession(jwks_url=url)


class VerifyHS256(unittest.TestCase):
    edge = es.EdgeSession(secret=SECRET)

    def kind(self, token):
        with self.assertRaises(es.InvalidAssertion) as ctx:
            self.edge.verify(token)
        self.assertNotIn(token, str(ctx.exception))
        return ctx.exception.kind

    def test_valid(self):
        self.assertEqual(self.edge.verify(hs(claims()))["sub"], "alice")

    def test_refusals_keep_their_kind(self):
        now = int(time.time())
        self.assertEqual(self.kind(hs(claims(), key=OTHER)), "bad_signature")
        self.assertEqual(self.kind(hs(claims(exp=now - 60, iat=now - 120, nbf=now - 120))), "expired")
        self.assertEqual(self.kind(hs(claims(nbf=now + 120))), "not_yet_valid")
        self.assertEqual(self.kind(hs(claims(iss="someone"))), "wrong_issuer")
        self.assertEqual(self.kind(hs(claims(aud="api"))), "wrong_audience")
        self.assertEqual(self.kind(hs(claims(sid=None))), "missing_claim")
        self.assertEqual(self.kind(hs(claims(), alg="HS384")), "wrong_algorithm")
        self.assertEqual(self.kind(jwt.encode(claims(), None, algorithm="none")), "wrong_algorithm")
        self.assertEqual(self.kind("not.a.jwt"), "malformed")

    def test_leeway(self):
        now = int(time.time())
        self.edge.verify(hs(claims(exp=now - 2, iat=now - 30, nbf=now - 30)))  # within 5 s
        strict = es.EdgeSession(secret=SECRET, leeway=0)
        with self.assertRaises(es.InvalidAssertion):
            strict.verify(hs(claims(exp=now - 2, iat=now - 30, nbf=now - 30)))

    def test_two_headers_are_refused(self):
        token = hs(claims())
        self.assertIsNone(self.edge.claims_for([]))
        with self.assertRaises(es.InvalidAssertion) as ctx:
            self.edge.claims_for([token, token])
        self.assertEqual(ctx.exception.kind, "duplicate_header")


class JwksServer:
    """Serves a JWK Set on 127.0.0.1 from a thread; `keys` may be changed."""

    def __init__(self, keys):
        self.keys = keys
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                body = json.dumps({"keys": outer.keys}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/_session/jwks.json"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def ed_jwk(private, kid):
    jwk = json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(private.public_key()))
    return {**jwk, "kid": kid, "alg": "EdDSA", "use": "sig"}


class VerifyEdDSA(unittest.TestCase):
    def setUp(self):
        self.key = Ed25519PrivateKey.generate()
        self.jwks = JwksServer([ed_jwk(self.key, "k1")])
        self.edge = es.EdgeSession(jwks_url=self.jwks.url)

    def tearDown(self):
        self.jwks.close()

    def sign(self, body, key=None, kid="k1"):
        return jwt.encode(body, key or self.key, algorithm="EdDSA", headers={"kid": kid} if kid else None)

    def kind(self, token):
        with self.assertRaises(es.InvalidAssertion) as ctx:
            self.edge.verify(token)
        return ctx.exception.kind

    def test_valid(self):
        self.assertEqual(self.edge.verify(self.sign(claims()))["sub"], "alice")

    def test_refusals(self):
        self.assertEqual(self.kind(self.sign(claims(), key=Ed25519PrivateKey.generate())), "bad_signature")
        self.assertEqual(self.kind(self.sign(claims(), kid="k-unknown")), "unknown_key")
        self.assertEqual(self.kind(self.sign(claims(), kid=None)), "unknown_key")
        self.assertEqual(self.kind(hs(claims(), headers={"kid": "k1"})), "wrong_algorithm")

    def test_a_rotated_key_is_fetched(self):
        self.edge.verify(self.sign(claims()))
        new = Ed25519PrivateKey.generate()
        self.jwks.keys = [ed_jwk(new, "k2"), ed_jwk(self.key, "k1")]
        fresh = es.EdgeSession(jwks_url=self.jwks.url)  # no refetch cooldown from an earlier fetch
        self.assertEqual(fresh.verify(self.sign(claims(), key=new, kid="k2"))["sub"], "alice")

    def test_unreachable_jwks_is_keys_unavailable(self):
        self.jwks.close()
        with self.assertRaises(es.KeysUnavailable):
            self.edge.verify(self.sign(claims()))

    def test_empty_jwks_is_keys_unavailable(self):
        self.jwks.keys = []
        with self.assertRaises(es.KeysUnavailable):
            self.edge.verify(self.sign(claims()))


async def call_asgi(app, scope):
    """Runs an ASGI app once; returns (messages sent, whether the inner app ran)."""
    sent = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    await app(scope, receive, send)
    return sent


def http_scope(headers=()):
    return {"type": "http", "method": "GET", "path": "/", "headers": [(k.encode(), v.encode()) for k, v in headers]}


class AsgiMiddleware(unittest.TestCase):
    def setUp(self):
        self.seen = []

        async def inner(scope, receive, send):
            self.seen.append(scope)
            await send({"type": "http.response.start", "status": 204, "headers": []})
            await send({"type": "http.response.body", "body": b""})

        self.app = es.EdgeSessionMiddleware(inner, edge=es.EdgeSession(secret=SECRET))

    def run_scope(self, scope):
        return asyncio.run(call_asgi(self.app, scope))

    def test_anonymous(self):
        self.run_scope(http_scope())
        self.assertIsNone(self.seen[0]["state"]["session"])
        self.assertIsNone(es.current_session(_Conn(self.seen[0])))

    def test_valid(self):
        self.run_scope(http_scope([("edge-session", hs(claims()))]))
        self.assertEqual(self.seen[0]["state"]["session"]["sub"], "alice")

    def test_invalid_is_401_and_the_app_never_runs(self):
        token = hs(claims(), key=OTHER)
        with self.assertLogs("edge_session", "WARNING") as logs:
            sent = self.run_scope(http_scope([("edge-session", token)]))
        self.assertIn("bad_signature", logs.output[0])
        self.assertNotIn(token.split(".")[2], "".join(logs.output) + sent[1]["body"].decode())
        self.assertEqual(self.seen, [])
        self.assertEqual(sent[0]["status"], 401)
        self.assertEqual(json.loads(sent[1]["body"])["reason"], "bad_signature")

    def test_duplicate_header_is_401(self):
        token = hs(claims())
        sent = self.run_scope(http_scope([("edge-session", token), ("Edge-Session", token)]))
        self.assertEqual(sent[0]["status"], 401)
        self.assertEqual(self.seen, [])

    def test_websocket_with_an_invalid_assertion_is_closed_before_accept(self):
        scope = {**http_scope([("edge-session", "bad")]), "type": "websocket"}
        sent = self.run_scope(scope)
        self.assertEqual(sent, [{"type": "websocket.close", "code": 1008, "reason": "invalid session"}])
        self.assertEqual(self.seen, [])

    def test_lifespan_passes_through(self):
        async def inner(scope, receive, send):
            self.seen.append(scope["type"])

        asyncio.run(
            call_asgi(es.EdgeSessionMiddleware(inner, edge=es.EdgeSession(secret=SECRET)), {"type": "lifespan"})
        )
        self.assertEqual(self.seen, ["lifespan"])

    def test_unavailable_jwks_is_503(self):
        jwks = JwksServer([])
        try:
            app = es.EdgeSessionMiddleware(lambda *a: None, edge=es.EdgeSession(jwks_url=jwks.url))
            token = jwt.encode(claims(), Ed25519PrivateKey.generate(), algorithm="EdDSA", headers={"kid": "k1"})
            sent = asyncio.run(call_asgi(app, http_scope([("edge-session", token)])))
            self.assertEqual(sent[0]["status"], 503)
        finally:
            jwks.close()

    def test_current_session_without_the_middleware_says_so(self):
        with self.assertRaisesRegex(RuntimeError, "EdgeSessionMiddleware"):
            es.current_session(_Conn({"type": "http"}))


class _Conn:
    def __init__(self, scope):
        self.scope = scope


class FlaskIntegration(unittest.TestCase):
    def setUp(self):
        app = Flask(__name__)
        es.EdgeSession(secret=SECRET).init_app(app)

        @app.get("/me")
        def me():
            return jsonify(session=g.session)

        self.client = app.test_client()

    def test_anonymous_valid_invalid(self):
        self.assertEqual(self.client.get("/me").json, {"session": None})
        self.assertEqual(self.client.get("/me", headers={"Edge-Session": hs(claims())}).json["session"]["sub"], "alice")
        bad = self.client.get("/me", headers={"Edge-Session": hs(claims(), key=OTHER)})
        self.assertEqual(bad.status_code, 401)
        self.assertEqual(bad.json["reason"], "bad_signature")
        self.assertEqual(bad.headers["Cache-Control"], "no-store")


class Verbs(unittest.TestCase):
    def responses(self):
        return [StarletteResponse(), Flask(__name__).response_class()]

    def test_set_session_writes_ascii_json(self):
        for r in self.responses():
            es.set_session(r, "zoë", {"name": "Zoë 🚀", "n": 1}, ttl=3600)
            value = r.headers["Edge-Session-Set"]
            self.assertTrue(value.isascii(), value)
            self.assertEqual(json.loads(value), {"sub": "zoë", "data": {"name": "Zoë 🚀", "n": 1}, "ttl": 3600})

    def test_set_session_refuses_what_the_worker_would(self):
        r = StarletteResponse()
        for args, err in [
            (("",), ValueError),
            (("x" * 257,), ValueError),
            (("a\nb",), ValueError),
            ((1,), TypeError),
            (("a", ["not", "a", "map"]), TypeError),
            (("a", {1: "int key"}), TypeError),
            (("a", {"x": float("nan")}), TypeError),
            (("a", {"x": {1, 2}}), TypeError),
            (("a", None, 0), ValueError),
            (("a", None, True), ValueError),
            (("a", {"blob": "x" * 70_000}), ValueError),
        ]:
            with self.subTest(args=repr(args)[:40]), self.assertRaises(err):
                es.set_session(r, *args)
        self.assertNotIn("edge-session-set", r.headers)

    def test_actions(self):
        for verb, action in [
            (es.destroy_session, "destroy"),
            (es.revoke_session, "revoke"),
            (es.revoke_all, "revoke-all"),
            (es.rotate_session, "rotate"),
        ]:
            for r in self.responses():
                self.assertIs(verb(r), r)
                self.assertEqual(r.headers["Edge-Session-Action"], action)

    def test_one_action_per_response(self):
        for r in self.responses():
            es.rotate_session(es.set_session(r, "alice"))
            es.rotate_session(r)  # the same again is fine
            with self.assertRaisesRegex(ValueError, "one action"):
                es.destroy_session(r)
            self.assertEqual(r.headers["Edge-Session-Action"], "rotate")

    def test_set_session_never_goes_with_an_action_that_ends_it(self):
        for clear in (es.destroy_session, es.revoke_session, es.revoke_all):
            for r in self.responses():
                es.set_session(r, "alice")
                with self.assertRaisesRegex(ValueError, "straight out again"):
                    clear(r)
            for r in self.responses():
                clear(r)
                with self.assertRaisesRegex(ValueError, "straight out again"):
                    es.set_session(r, "alice")


if __name__ == "__main__":
    unittest.main()
