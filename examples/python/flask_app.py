"""A tiny Flask origin behind edge-session (served by Werkzeug on 127.0.0.1; use a
production WSGI server such as gunicorn for real traffic).

    ORIGIN_PORT=8788 ORIGIN_SECRET=… .venv/bin/python flask_app.py
    ORIGIN_PORT=8788 JWKS_URL=http://127.0.0.1:8787/_session/jwks.json .venv/bin/python flask_app.py

Routes (reach them through the worker):
    POST /login?user=NAME[&name=DISPLAY]  logs NAME in, data {"name": DISPLAY}
    GET  /me                              {"session": claims or null}
    POST /rotate                          new session id (login required)
    POST /logout                          revokes this session (cookie cleared, copies die)
    POST /destroy                         clears this browser's cookie only
    POST /revoke-all                      signs the user out everywhere (login required)
"""

import os

from flask import Flask, g, jsonify, request
from werkzeug.serving import make_server

from edge_session import EdgeSession, destroy_session, revoke_all, revoke_session, rotate_session, set_session

jwks_url = os.environ.get("JWKS_URL")
edge = EdgeSession(jwks_url=jwks_url) if jwks_url else EdgeSession(secret=os.environ["ORIGIN_SECRET"])

app = Flask(__name__)
edge.init_app(app)


def login_required():
    return jsonify(error="login required"), 401


@app.post("/login")
def login():
    user = request.args.get("user", "")
    if not user:
        return jsonify(error="user= is required"), 400
    return set_session(jsonify(ok=True, sub=user), user, {"name": request.args.get("name", user)})


@app.get("/me")
def me():
    return jsonify(session=g.session)


@app.post("/rotate")
def rotate():
    if g.session is None:
        return login_required()
    return rotate_session(jsonify(ok=True, old_sid=g.session["sid"]))


@app.post("/logout")
def logout():
    return revoke_session(jsonify(ok=True))


@app.post("/destroy")
def destroy():
    return destroy_session(jsonify(ok=True))


@app.post("/revoke-all")
def sign_out_everywhere():
    if g.session is None:
        return login_required()
    return revoke_all(jsonify(ok=True, sub=g.session["sub"]))


if __name__ == "__main__":
    port = int(os.environ.get("ORIGIN_PORT", "8788"))
    server = make_server("127.0.0.1", port, app, threaded=True)
    print(f"flask example ({edge.algorithm}) listening on http://127.0.0.1:{port}", flush=True)
    server.serve_forever()
