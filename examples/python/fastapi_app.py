"""A tiny FastAPI origin behind edge-session (served by uvicorn on 127.0.0.1).

    ORIGIN_PORT=8788 ORIGIN_SECRET=… .venv/bin/python fastapi_app.py
    ORIGIN_PORT=8788 JWKS_URL=http://127.0.0.1:8787/_session/jwks.json .venv/bin/python fastapi_app.py

Routes (reach them through the worker):
    POST /login?user=NAME[&name=DISPLAY]  logs NAME in, data {"name": DISPLAY}
    GET  /me                              {"session": claims or null}
    POST /rotate                          new session id (login required)
    POST /logout                          revokes this session (cookie cleared, copies die)
    POST /destroy                         clears this browser's cookie only
    POST /revoke-all                      signs the user out everywhere (login required)
"""

import os
import socket
from typing import Annotated

import uvicorn
from fastapi import Depends, FastAPI, Response

from edge_session import (
    EdgeSession,
    EdgeSessionMiddleware,
    current_session,
    destroy_session,
    require_session,
    revoke_all,
    revoke_session,
    rotate_session,
    set_session,
)

jwks_url = os.environ.get("JWKS_URL")
edge = EdgeSession(jwks_url=jwks_url) if jwks_url else EdgeSession(secret=os.environ["ORIGIN_SECRET"])

Session = Annotated[dict | None, Depends(current_session)]  # None when anonymous
LoggedIn = Annotated[dict, Depends(require_session)]  # 401 when anonymous

app = FastAPI()
app.add_middleware(EdgeSessionMiddleware, edge=edge)


@app.post("/login")
def login(response: Response, user: str, name: str | None = None):
    set_session(response, user, {"name": name or user})
    return {"ok": True, "sub": user}


@app.get("/me")
def me(session: Session):
    return {"session": session}


@app.post("/rotate")
def rotate(response: Response, session: LoggedIn):
    rotate_session(response)
    return {"ok": True, "old_sid": session["sid"]}


@app.post("/logout")
def logout(response: Response):
    revoke_session(response)
    return {"ok": True}


@app.post("/destroy")
def destroy(response: Response):
    destroy_session(response)
    return {"ok": True}


@app.post("/revoke-all")
def sign_out_everywhere(response: Response, session: LoggedIn):
    revoke_all(response)
    return {"ok": True, "sub": session["sub"]}


if __name__ == "__main__":
    port = int(os.environ.get("ORIGIN_PORT", "8788"))
    sock = socket.create_server(("127.0.0.1", port))
    print(f"fastapi example ({edge.algorithm}) listening on http://127.0.0.1:{port}", flush=True)
    uvicorn.Server(uvicorn.Config(app, log_level="warning")).run(sockets=[sock])
