"""HTTP API authentication: keys made by the CLI beside a running coordinator,
401 without or with a bad key, 403 with the wrong scope, revocation at once,
and the public health routes."""
import json

from conftest import run_cli


def test_health_needs_no_key(mesh):
    mesh.start_coordinator()
    assert mesh.http("GET", "/healthz", key=None).json() == {"status": "ok"}
    r = mesh.http("GET", "/readyz", key=None)
    assert r.status_code == 200 and r.json()["status"] == "ready"


def test_missing_and_bad_keys_are_401(mesh):
    mesh.start_coordinator()
    r = mesh.http("GET", "/api/info", key=None)
    assert r.status_code == 401
    assert r.json()["error"]["code"] == "unauthorized"
    good = mesh.key("admin")
    forged = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")
    for bad in (forged, "pbk_000000000000_" + "A" * 43, "nonsense", good + "x"):
        r = mesh.http("GET", "/api/info", key=None, headers={"x-api-key": bad})
        assert r.status_code == 401, bad
    r = mesh.http("GET", "/api/info", key=None, headers={"Authorization": "Bearer " + good})
    assert r.status_code == 200
    info = r.json()
    assert len(info["cluster_id"]) == 32 and info["version"]


def test_scopes(mesh):
    mesh.start_coordinator()
    mesh.start_worker("w1")
    # read may read, not submit
    assert mesh.http("GET", "/api/info", key="read").status_code == 200
    r = mesh.http("POST", "/api/jobs", key="read", json_body={"role": "echo"})
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    # submit:echo may submit echo, not sleep, and may not read
    r = mesh.http("POST", "/api/jobs", key="submit:echo", json_body={"role": "echo"})
    assert r.status_code == 202, r.text
    r = mesh.http("POST", "/api/jobs", key="submit:echo",
                  json_body={"role": "sleep", "payload": {"ms": 1}})
    assert r.status_code == 403
    assert mesh.http("GET", "/api/info", key="submit:echo").status_code == 403
    # a batch with one forbidden role is refused whole: nothing is queued
    before = mesh.http("GET", "/api/info").json()["jobs_submitted"]
    r = mesh.http("POST", "/api/jobs", key="submit:echo",
                  json_body=[{"role": "echo"}, {"role": "sleep"}])
    assert r.status_code == 403
    assert mesh.http("GET", "/api/info").json()["jobs_submitted"] == before
    # submit:* any role
    r = mesh.http("POST", "/api/jobs", key="submit:*",
                  json_body={"role": "sleep", "payload": {"ms": 1}})
    assert r.status_code == 202


def test_keys_cli_beside_running_coordinator(mesh):
    mesh.start_coordinator()
    data = f"--data-dir={mesh.tmp / 'data'}"
    r = run_cli(["keys", "create", data, "--scope=read", "--name=grafana"])
    assert r.rc == 0, r
    key = r.out.strip().splitlines()[-1]
    assert key.startswith("pbk_") and len(key) == 60
    assert mesh.http("GET", "/api/info", key=key).status_code == 200
    listed = run_cli(["keys", "list", data, "--json"])
    assert listed.rc == 0
    keys = json.loads(listed.out)
    mine = [k for k in keys if k["name"] == "grafana"]
    assert len(mine) == 1 and mine[0]["scopes"] == "read"
    assert key not in listed.out and key[17:] not in listed.out   # the secret never again
    assert run_cli(["keys", "revoke", data, mine[0]["id"]]).rc == 0
    assert mesh.http("GET", "/api/info", key=key).status_code == 401
    assert run_cli(["keys", "revoke", data, mine[0]["id"]]).rc == 4
    assert run_cli(["keys", "create", data, "--scope=root"]).rc == 2
    assert run_cli(["keys", "revoke", data]).rc == 2
    # the key is never written into the coordinator's log
    assert key not in mesh.coord.log_text()


def test_unknown_route_and_method(mesh):
    mesh.start_coordinator()
    r = mesh.http("GET", "/api/nothing-here")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not-found"
    r = mesh.http("DELETE", "/api/jobs")
    assert r.status_code == 405 and r.json()["error"]["code"] == "method-not-allowed"
