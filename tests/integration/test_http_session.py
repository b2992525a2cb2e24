"""UI logins over HTTP: `popebot-node passwd` beside a running coordinator,
the session cookie and its attributes, CSRF on every change made with a
session, logout, identical 401s for a wrong user and a wrong password, the
failed-login limit (429), and no password in the coordinator's log."""

import requests

from conftest import run_cli

PASSWORD = "correct horse battery staple"


def passwd(mesh, user, password=PASSWORD, *extra):
    data = f"--data-dir={mesh.tmp / 'data'}"
    stdin = None if password is None else (password + "\n").encode()
    return run_cli(["passwd", data, f"--user={user}", *extra], input=stdin)


def login(mesh, user="alice", password=PASSWORD):
    s = requests.Session()
    r = s.post(mesh.url + "/api/login", json={"user": user, "password": password}, timeout=30)
    return s, r


def test_passwd_cli_beside_running_coordinator(mesh):
    mesh.start_coordinator()
    r = passwd(mesh, "alice")
    assert r.rc == 0, r
    assert PASSWORD not in r.out + r.err
    for bad in ("", "short", "eleven-byte"):
        r = passwd(mesh, "bob", bad)
        assert r.rc == 2 and "password" in r.err and (not bad or bad not in r.err), r
    assert passwd(mesh, "bad name").rc == 2
    assert passwd(mesh, "bob", "x" * 2000).rc == 2
    _, r = login(mesh)
    assert r.status_code == 200, r.text
    assert passwd(mesh, "alice", None, "--delete").rc == 0
    assert passwd(mesh, "alice", None, "--delete").rc == 4
    _, r = login(mesh)
    assert r.status_code == 401
    assert run_cli(["passwd", "--help"]).rc == 0


def test_login_cookie_and_session(mesh):
    mesh.start_coordinator()
    assert passwd(mesh, "alice").rc == 0
    s, r = login(mesh)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["user"] == "alice" and len(body["csrf_token"]) == 43
    cookie = r.headers["Set-Cookie"]
    parts = [p.strip() for p in cookie.split(";")]
    name, _, value = parts[0].partition("=")
    assert name == "popebot_session" and len(value) == 43
    attrs = {p.split("=")[0].lower(): p for p in parts[1:]}
    assert "httponly" in attrs and attrs["samesite"] == "SameSite=Strict"
    assert attrs["path"] == "Path=/" and "secure" not in attrs        # plain HTTP here
    assert 0 < int(attrs["max-age"].split("=")[1]) <= 12 * 3600
    assert value not in body["csrf_token"]
    r = s.get(mesh.url + "/api/session", timeout=30)
    assert r.status_code == 200
    assert r.json()["user"] == "alice" and r.json()["csrf_token"] == body["csrf_token"]
    assert requests.get(mesh.url + "/api/session", timeout=30).status_code == 401
    assert requests.get(mesh.url + "/api/info", timeout=30).status_code == 401


def test_session_reads_and_changes_with_csrf(mesh):
    mesh.start_coordinator()
    assert passwd(mesh, "alice").rc == 0
    s, r = login(mesh)
    csrf = r.json()["csrf_token"]
    assert s.get(mesh.url + "/api/info", timeout=30).status_code == 200
    assert s.get(mesh.url + "/api/jobs", timeout=30).status_code == 200
    role = {"name": "hello", "command": ["/bin/echo", "hi"]}
    # a change without the token, or with a wrong one: 403 csrf, nothing made
    for h in ({}, {"X-CSRF-Token": "A" * 43}, {"X-CSRF-Token": csrf[:-1]}):
        r = s.post(mesh.url + "/api/roles", json=role, headers=h, timeout=30)
        assert r.status_code == 403 and r.json()["error"]["code"] == "csrf", r.text
        assert csrf not in r.text
    assert s.get(mesh.url + "/api/roles/hello", timeout=30).status_code == 404
    r = s.post(mesh.url + "/api/roles", json=role, headers={"X-CSRF-Token": csrf}, timeout=30)
    assert r.status_code in (200, 201), r.text
    r = s.delete(mesh.url + "/api/roles/hello", timeout=30)
    assert r.status_code == 403
    r = s.delete(mesh.url + "/api/roles/hello", headers={"X-CSRF-Token": csrf}, timeout=30)
    assert r.status_code in (200, 204), r.text
    # an API key needs no token, cookie or not
    r = mesh.http("POST", "/api/roles", json_body=role, cookies=s.cookies)
    assert r.status_code in (200, 201), r.text


def test_logout_ends_the_session(mesh):
    mesh.start_coordinator()
    assert passwd(mesh, "alice").rc == 0
    s, r = login(mesh)
    csrf = r.json()["csrf_token"]
    old = dict(s.cookies)
    assert s.post(mesh.url + "/api/logout", timeout=30).status_code == 403
    r = s.post(mesh.url + "/api/logout", headers={"X-CSRF-Token": csrf}, timeout=30)
    assert r.status_code == 204
    assert "Max-Age=0" in r.headers["Set-Cookie"]
    # the old cookie, replayed, no longer works
    r = requests.get(mesh.url + "/api/info", cookies=old, timeout=30)
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
    assert requests.get(mesh.url + "/api/session", cookies=old, timeout=30).status_code == 401


def test_wrong_user_and_wrong_password_look_alike(mesh):
    mesh.start_coordinator()
    assert passwd(mesh, "alice").rc == 0
    _, a = login(mesh, "alice", "not the password at all")
    _, b = login(mesh, "mallory", "not the password at all")
    assert a.status_code == b.status_code == 401
    assert a.text == b.text and a.json()["error"]["code"] == "unauthorized"
    assert "Set-Cookie" not in a.headers and "Set-Cookie" not in b.headers
    for body in ({}, {"user": "alice"}, {"user": "alice", "password": 1},
                 {"user": "alice", "password": PASSWORD, "extra": 1}):
        r = requests.post(mesh.url + "/api/login", json=body, timeout=30)
        assert r.status_code == 422, body


def test_failed_logins_are_limited(mesh):
    mesh.start_coordinator()
    assert passwd(mesh, "alice").rc == 0
    for i in range(5):
        _, r = login(mesh, "alice", f"wrong guess number {i}")
        assert r.status_code == 401
    _, r = login(mesh, "alice", PASSWORD)       # even the right one, for now
    assert r.status_code == 429, r.text
    assert 1 <= int(r.headers["Retry-After"]) <= 60
    assert r.json()["error"]["code"] == "too-many-logins"
    _, r = login(mesh, "someone-else", PASSWORD)  # the address is limited too
    assert r.status_code == 429
    # keys still work
    assert mesh.http("GET", "/api/info").status_code == 200


def test_secrets_never_in_the_log(mesh):
    mesh.start_coordinator()
    assert passwd(mesh, "alice").rc == 0
    s, r = login(mesh)
    csrf = r.json()["csrf_token"]
    sid = s.cookies["popebot_session"]
    login(mesh, "alice", "a wrong password 1234")
    s.get(mesh.url + "/api/info", timeout=30)
    s.post(mesh.url + "/api/logout", headers={"X-CSRF-Token": csrf}, timeout=30)
    log = mesh.coord.log_text()
    assert "logged in" in log                                 # it does log logins
    for secret in (PASSWORD, "a wrong password 1234", csrf, sid):
        assert secret not in log


def test_cookie_is_secure_over_https(mesh, tls_cert):
    crt, key = tls_cert
    mesh.start_coordinator(extra=[f"--tls-cert={crt}", f"--tls-key={key}"])
    assert passwd(mesh, "alice").rc == 0
    base = f"https://127.0.0.1:{mesh.http_port}"
    s = requests.Session()
    r = s.post(base + "/api/login", json={"user": "alice", "password": PASSWORD},
               verify=str(crt), timeout=30)
    assert r.status_code == 200, r.text
    assert "; Secure" in r.headers["Set-Cookie"]
    assert s.get(base + "/api/info", verify=str(crt), timeout=30).status_code == 200
