"""UI login sessions outlive the coordinator: they are kept in DATA_DIR/auth,
so after a restart (SIGTERM or SIGKILL) the same cookie and the same CSRF
token still work, a logout made after it sticks across the next one, and a
session that ran out meanwhile is refused. `passwd --delete` and a password
change made beside a running coordinator end the user's sessions at once.

Every check after a restart sends the cookie by hand: the client's cookie
jar would drop a cookie past its Max-Age by itself, and the point is what
the server says about it."""

import signal
import time

import pytest
import requests

from conftest import run_cli

PASSWORD = "correct horse battery staple"
COOKIE = "popebot_session"
ROLE = {"name": "hello", "command": ["/bin/echo", "hi"]}


def passwd(mesh, user, password=PASSWORD, *extra):
    data = f"--data-dir={mesh.tmp / 'data'}"
    stdin = None if password is None else (password + "\n").encode()
    return run_cli(["passwd", data, f"--user={user}", *extra], input=stdin)


def login(mesh, user="alice", password=PASSWORD):
    """The session's cookie value and CSRF token."""
    r = requests.post(mesh.url + "/api/login", json={"user": user, "password": password},
                      timeout=30)
    assert r.status_code == 200, r.text
    return r.cookies[COOKIE], r.json()["csrf_token"]


def get(mesh, path, sid):
    return requests.get(mesh.url + path, cookies={COOKIE: sid}, timeout=30)


def post(mesh, path, sid, csrf=None, body=None):
    h = {"X-CSRF-Token": csrf} if csrf else {}
    return requests.post(mesh.url + path, cookies={COOKIE: sid}, headers=h, json=body,
                         timeout=30)


def restart(mesh, how, extra=()):
    mesh.coord.signal(how)
    rc = mesh.coord.wait(15)
    assert rc == (0 if how == signal.SIGTERM else -signal.SIGKILL), rc
    mesh.reset_client()
    mesh.start_coordinator(extra=extra)


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL])
def test_session_outlives_a_restart(mesh, how):
    mesh.start_coordinator()
    assert passwd(mesh, "alice").rc == 0
    sid, csrf = login(mesh)
    assert get(mesh, "/api/session", sid).status_code == 200

    restart(mesh, how)
    r = get(mesh, "/api/session", sid)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["user"] == "alice" and body["csrf_token"] == csrf
    assert 0 < body["expires_in_s"] <= 12 * 3600
    assert get(mesh, "/api/info", sid).status_code == 200
    # a change still needs the token, and the old token is still it
    r = post(mesh, "/api/roles", sid, body=ROLE)
    assert r.status_code == 403 and r.json()["error"]["code"] == "csrf", r.text
    r = post(mesh, "/api/roles", sid, csrf, body=ROLE)
    assert r.status_code in (200, 201), r.text

    # a logout after the restart ends it, and it stays ended after the next
    assert post(mesh, "/api/logout", sid).status_code == 403
    r = post(mesh, "/api/logout", sid, csrf)
    assert r.status_code == 204 and "Max-Age=0" in r.headers["Set-Cookie"]
    assert get(mesh, "/api/session", sid).status_code == 401
    restart(mesh, how)
    assert get(mesh, "/api/session", sid).status_code == 401
    assert get(mesh, "/api/info", sid).status_code == 401
    log = "".join(p.log_text() for p in mesh.procs)
    assert sid not in log and csrf not in log


def test_idle_session_is_refused_after_restart(mesh):
    flags = ["--session-idle=2s"]
    mesh.start_coordinator(extra=flags)
    assert passwd(mesh, "alice").rc == 0
    sid, _ = login(mesh)
    mesh.coord.signal(signal.SIGTERM)
    assert mesh.coord.wait(15) == 0
    time.sleep(3)                                  # longer than its idle time
    mesh.reset_client()
    mesh.start_coordinator(extra=flags)
    r = get(mesh, "/api/session", sid)
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized", r.text
    assert get(mesh, "/api/info", sid).status_code == 401
    assert login(mesh)[0] != sid                   # logging in again works


def test_session_past_its_lifetime_is_refused_after_restart(mesh):
    flags = ["--session-lifetime=3s"]
    mesh.start_coordinator(extra=flags)
    assert passwd(mesh, "alice").rc == 0
    r = requests.post(mesh.url + "/api/login", json={"user": "alice", "password": PASSWORD},
                      timeout=30)
    assert r.status_code == 200 and "Max-Age=3;" in r.headers["Set-Cookie"], r.headers
    sid = r.cookies[COOKIE]
    begun = time.monotonic()
    restart(mesh, signal.SIGKILL, flags)
    time.sleep(max(0.0, 4 - (time.monotonic() - begun)))
    assert get(mesh, "/api/session", sid).status_code == 401


def test_bad_session_flags_are_refused(mesh):
    r = run_cli(["--role=coordinator", "--session-idle=0", f"--data-dir={mesh.tmp / 'x'}"])
    assert r.rc != 0 and "--session-idle" in r.err, r


def test_passwd_ends_sessions_beside_a_running_coordinator(mesh):
    mesh.start_coordinator()
    assert passwd(mesh, "alice").rc == 0
    assert passwd(mesh, "bob").rc == 0
    a1, _ = login(mesh)
    a2, _ = login(mesh)
    b1, _ = login(mesh, "bob")
    for sid in (a1, a2, b1):
        assert get(mesh, "/api/info", sid).status_code == 200

    assert passwd(mesh, "alice", None, "--delete").rc == 0
    for sid in (a1, a2):                           # the next request already sees it
        r = get(mesh, "/api/info", sid)
        assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized", r.text
    assert get(mesh, "/api/info", b1).status_code == 200

    # a new password ends bob's sessions too; the new one logs in
    new = "another long passphrase"
    assert passwd(mesh, "bob", new).rc == 0
    assert get(mesh, "/api/session", b1).status_code == 401
    b2, _ = login(mesh, "bob", new)
    assert get(mesh, "/api/session", b2).status_code == 200

    restart(mesh, signal.SIGTERM)                  # and none comes back
    for sid in (a1, a2, b1):
        assert get(mesh, "/api/session", sid).status_code == 401
    assert get(mesh, "/api/session", b2).status_code == 200
