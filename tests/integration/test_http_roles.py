"""Roles over HTTP: CRUD with every field, strict validation (422 naming the
field, nothing changed), built-ins read-only, persistence across a restart,
edits reaching the next job a real worker runs, deletes refused while jobs
wait, and a disabled role refusing ZeroMQ and HTTP submits."""
import pytest

from conftest import ProtoError

FULL = {
    "name": "deploy",
    "command": ["/bin/sh", "-c", "printf 'deployed %s' \"$TARGET\"", "sh", "{{PAYLOAD}}"],
    "shell": False,
    "timeout_ms": 30000,
    "max_attempts": 4,
    "backoff_base_ms": 100,
    "backoff_max_ms": 2000,
    "max_concurrency": 2,
    "env": {"TARGET": "prod", "EMPTY": ""},
    "where": {"region": "eu", "tier": "prod"},
    "enabled": True,
    "permissions": ["submit:deploy", "worker:w9"],
}


def roles_by_name(mesh, key="read"):
    r = mesh.http("GET", "/api/roles", key=key)
    assert r.status_code == 200, r.text
    return {x["name"]: x for x in r.json()["roles"]}


def info(mesh):
    return mesh.http("GET", "/api/info").json()


def test_crud_round_trip_with_every_field(mesh):
    mesh.start_coordinator()
    cid = info(mesh)["cluster_id"]
    r = mesh.http("POST", "/api/roles", json_body=FULL)
    assert r.status_code == 201, r.text
    made = r.json()
    assert made["builtin"] is False
    assert made["webhook_path"] == f"/api/cluster/{cid}/role/deploy/webhook"
    assert {k: made[k] for k in FULL} == FULL
    got = mesh.http("GET", "/api/roles/deploy", key="read")
    assert got.status_code == 200 and got.json() == made
    assert roles_by_name(mesh)["deploy"] == made

    r = mesh.http("PATCH", "/api/roles/deploy",
                  json_body={"env": {"TARGET": "staging"}, "enabled": False, "permissions": []})
    assert r.status_code == 200, r.text
    patched = r.json()
    assert patched["env"] == {"TARGET": "staging"} and patched["enabled"] is False
    assert patched["permissions"] == [] and patched["command"] == FULL["command"]
    assert mesh.http("GET", "/api/roles/deploy").json() == patched

    r = mesh.http("DELETE", "/api/roles/deploy")
    assert r.status_code == 204, r.text
    assert mesh.http("GET", "/api/roles/deploy").status_code == 404
    assert "deploy" not in roles_by_name(mesh)
    assert mesh.http("PATCH", "/api/roles/deploy", json_body={"enabled": True}).status_code == 404
    assert mesh.http("DELETE", "/api/roles/deploy").status_code == 404
    # the name is free again
    r = mesh.http("POST", "/api/roles", json_body={"name": "deploy", "command": ["true"]})
    assert r.status_code == 201, r.text
    assert r.json()["env"] == {} and r.json()["enabled"] is True
    assert r.json()["where"] == {}


def test_where_pins_the_roles_jobs_to_labelled_workers(mesh):
    mesh.start_coordinator()
    mesh.start_worker("a1", roles="echo,pinned", labels="zone=a,gpu=1")
    mesh.start_worker("b1", roles="echo,pinned", labels="zone=b")
    r = mesh.http("POST", "/api/roles", json_body={"name": "pinned", "command": ["echo", "hi"],
                                                   "where": {"zone": "b"}})
    assert r.status_code == 201, r.text
    jobs = [mesh.http("POST", "/api/jobs", json_body={"role": "pinned"}).json()["id"]
            for _ in range(6)]
    assert {mesh.wait_job(j)["worker"] for j in jobs} == {"b1"}
    # a job may add labels, but not contradict the role's (HTTP 422, ZeroMQ refusal)
    r = mesh.http("POST", "/api/jobs", json_body={"role": "pinned", "where": {"zone": "a"}})
    assert r.status_code == 422 and "contradicts" in r.json()["error"]["message"], r.text
    with pytest.raises(ProtoError, match="contradicts"):
        mesh.client.submit("pinned", where={"zone": "a"})
    # nobody is zone=b and gpu=1: such a job waits
    waiting = mesh.http("POST", "/api/jobs", json_body={"role": "pinned",
                                                       "where": {"gpu": "1"}}).json()["id"]
    # the constraint changes for jobs submitted after the change
    r = mesh.http("PATCH", "/api/roles/pinned", json_body={"where": {"zone": "a"}})
    assert r.status_code == 200 and r.json()["where"] == {"zone": "a"}
    after = mesh.http("POST", "/api/jobs", json_body={"role": "pinned"}).json()["id"]
    assert mesh.wait_job(after)["worker"] == "a1"
    assert mesh.http("GET", f"/api/jobs/{waiting}").json()["state"] == "queued"


def test_duplicate_and_builtins(mesh):
    mesh.start_coordinator()
    builtin = roles_by_name(mesh)
    assert builtin["echo"]["builtin"] is True and builtin["sleep"]["builtin"] is True
    assert "command" not in builtin["echo"]
    body = {"name": "dup", "command": ["true"]}
    assert mesh.http("POST", "/api/roles", json_body=body).status_code == 201
    r = mesh.http("POST", "/api/roles", json_body=body)
    assert r.status_code == 409 and r.json()["error"]["code"] == "conflict"
    r = mesh.http("POST", "/api/roles", json_body={"name": "echo", "command": ["true"]})
    assert r.status_code == 409 and "built in" in r.json()["error"]["message"]
    for method, body in (("PATCH", {"timeout_ms": 5}), ("DELETE", None)):
        r = mesh.http(method, "/api/roles/echo", json_body=body)
        assert r.status_code == 409, r.text
        assert "built in" in r.json()["error"]["message"]
    assert roles_by_name(mesh)["echo"] == builtin["echo"]


def test_scopes(mesh):
    mesh.start_coordinator()
    body = {"name": "s1", "command": ["true"]}
    assert mesh.http("POST", "/api/roles", key="read", json_body=body).status_code == 403
    assert mesh.http("POST", "/api/roles", key="submit:*", json_body=body).status_code == 403
    assert mesh.http("GET", "/api/roles", key="submit:*").status_code == 403
    assert mesh.http("GET", "/api/roles", key=None).status_code == 401
    assert mesh.http("POST", "/api/roles", json_body=body).status_code == 201
    assert mesh.http("DELETE", "/api/roles/s1", key="read").status_code == 403
    assert mesh.http("PATCH", "/api/roles/s1", key="read", json_body={}).status_code == 403


BAD_CREATES = [
    ({"name": "x", "command": ["true"], "timeout": 5}, "timeout"),
    ({"name": "x", "command": ["true"], "timeout_ms": "5"}, "timeout_ms"),
    ({"name": "x", "command": ["true"], "timeout_ms": -1}, "timeout_ms"),
    ({"name": "x", "command": ["true"], "max_attempts": 0}, "max_attempts"),
    ({"name": "x", "command": ["true"], "enabled": "yes"}, "enabled"),
    ({"name": "x", "command": ["true"], "permissions": "submit:x"}, "permissions"),
    ({"name": "x", "command": ["true"], "permissions": ["root"]}, "permissions"),
    ({"name": "x", "command": ["true"], "env": {"A": 1}}, "env"),
    ({"name": "x", "command": ["true"], "where": {"zone": 1}}, "where"),
    ({"name": "x", "command": ["true"], "where": {"bad key": "a"}}, "where"),
    ({"name": "x", "command": ["true"], "where": {"zone": "a,b"}}, "where"),
    ({"name": "x", "command": ["true"], "where": ["zone=a"]}, "where"),
    ({"name": "x", "command": [1]}, "command"),
    ({"name": "x", "command": []}, "command"),
    ({"name": "x", "shell": True, "command": ["a", "b"]}, "command"),
    ({"name": "x"}, "command"),
    ({"name": "a b", "command": ["true"]}, "name"),
    ({"name": "", "command": ["true"]}, "name"),
    ({"name": "x" * 65, "command": ["true"]}, "name"),
    ({"command": ["true"]}, "name"),
    ({"name": "x", "command": ["true"], "builtin": False}, "builtin"),
    ({"name": "x", "command": ["true"], "webhook_path": "/x"}, "webhook_path"),
]


@pytest.mark.parametrize("body,field", BAD_CREATES)
def test_bad_create_is_422_and_changes_nothing(mesh, body, field):
    mesh.start_coordinator()
    before = roles_by_name(mesh)
    r = mesh.http("POST", "/api/roles", json_body=body)
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["code"] == "invalid" and field in err["message"], err
    assert roles_by_name(mesh) == before


def test_bad_bodies_and_patches(mesh):
    mesh.start_coordinator()
    assert mesh.http("POST", "/api/roles", json_body={"name": "p", "command": ["true"]}).status_code == 201
    before = roles_by_name(mesh)
    r = mesh.http("POST", "/api/roles", data=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "bad-json"
    assert mesh.http("POST", "/api/roles", json_body=[FULL]).status_code == 422
    for patch, field in (({"name": "q"}, "name"), ({"shell": "no"}, "shell"),
                         ({"shell": True, "command": ["a", "b"]}, "command"),
                         ({"max_concurrency": -2}, "max_concurrency"), ({"bogus": 1}, "bogus"),
                         ({"builtin": True}, "builtin")):
        r = mesh.http("PATCH", "/api/roles/p", json_body=patch)
        assert r.status_code == 422, (patch, r.text)
        assert field in r.json()["error"]["message"], (patch, r.text)
    r = mesh.http("PATCH", "/api/roles/p", data=b"[1", headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert mesh.http("PATCH", "/api/roles/p", json_body=[1]).status_code == 422
    assert roles_by_name(mesh) == before
    assert mesh.coord.alive()


def test_persistence_across_restart(mesh):
    mesh.start_coordinator()
    assert mesh.http("POST", "/api/roles", json_body=FULL).status_code == 201
    assert mesh.http("POST", "/api/roles", json_body={"name": "gone", "command": ["true"]}).status_code == 201
    assert mesh.http("PATCH", "/api/roles/deploy",
                     json_body={"enabled": False, "permissions": ["read"]}).status_code == 200
    assert mesh.http("DELETE", "/api/roles/gone").status_code == 204
    before = roles_by_name(mesh)
    mesh.coord.signal(15)
    mesh.coord.wait()
    mesh.reset_client()
    mesh.start_coordinator()
    after = roles_by_name(mesh)
    assert after == before
    assert "gone" not in after
    assert after["deploy"]["enabled"] is False and after["deploy"]["permissions"] == ["read"]


def test_roles_file_wins_at_start(mesh):
    """The roles file is applied at every start: its roles replace stored
    ones of the same name (API edits to them last until the next start)."""
    mesh.start_coordinator(roles=[{"name": "filed", "command": ["true"], "timeout_ms": 7}])
    r = mesh.http("PATCH", "/api/roles/filed", json_body={"timeout_ms": 9})
    assert r.status_code == 200 and r.json()["timeout_ms"] == 9
    assert mesh.http("POST", "/api/roles", json_body={"name": "apimade", "command": ["true"]}).status_code == 201
    mesh.coord.signal(15)
    mesh.coord.wait()
    mesh.reset_client()
    mesh.start_coordinator()
    roles = roles_by_name(mesh)
    assert roles["filed"]["timeout_ms"] == 7
    assert "apimade" in roles


def test_edit_applies_to_next_job(mesh):
    mesh.start_coordinator()
    role = {"name": "greet", "shell": True, "command": "printf 'v1-%s' \"$GREETING\"",
            "env": {"GREETING": "a"}}
    assert mesh.http("POST", "/api/roles", json_body=role).status_code == 201
    mesh.start_worker("w1", roles="greet")
    j = mesh.wait_job(mesh.submit("greet", {}))
    assert j["state"] == "succeeded" and j["result"] == "v1-a", j
    r = mesh.http("PATCH", "/api/roles/greet",
                  json_body={"command": "printf 'v2-%s' \"$GREETING\"", "env": {"GREETING": "b"}})
    assert r.status_code == 200, r.text
    j = mesh.wait_job(mesh.submit("greet", {}))
    assert j["state"] == "succeeded" and j["result"] == "v2-b", j


def test_delete_with_queued_jobs_is_409(mesh):
    mesh.start_coordinator()
    assert mesh.http("POST", "/api/roles", json_body={"name": "busy", "command": ["true"]}).status_code == 201
    jid = mesh.submit("busy", {})                      # no worker serves it: stays queued
    r = mesh.http("DELETE", "/api/roles/busy")
    assert r.status_code == 409 and "unfinished" in r.json()["error"]["message"], r.text
    assert mesh.http("GET", "/api/roles/busy").status_code == 200
    mesh.client.cancel(jid)
    mesh.wait_job(jid, "cancelled")
    assert mesh.http("DELETE", "/api/roles/busy").status_code == 204
    # the cancelled job still shows its role's name
    assert mesh.job(jid)["role"] == "busy"
    with pytest.raises(ProtoError):
        mesh.submit("busy", {})


def test_disabled_role_refuses_zmq_and_http(mesh):
    mesh.start_coordinator()
    assert mesh.http("POST", "/api/roles",
                     json_body={"name": "off", "command": ["true"], "enabled": False}).status_code == 201
    with pytest.raises(ProtoError) as e:
        mesh.submit("off", {})
    assert str(e.value.message).startswith("role disabled"), e.value.message
    r = mesh.http("POST", "/api/jobs", json_body={"role": "off"})
    assert r.status_code == 403, r.text
    assert r.json()["error"]["message"].startswith("role disabled")
    assert mesh.http("PATCH", "/api/roles/off", json_body={"enabled": True}).status_code == 200
    assert mesh.http("POST", "/api/jobs", json_body={"role": "off"}).status_code == 202
    assert mesh.submit("off", {})


def test_odd_names_in_paths_are_404(mesh):
    mesh.start_coordinator()
    for name in ("%C3%28", "a%20b", "x" * 65, "%00", "..%2F..%2Fetc"):
        for method in ("GET", "PATCH", "DELETE"):
            r = mesh.http(method, "/api/roles/" + name, json_body={} if method == "PATCH" else None)
            assert r.status_code == 404, (method, name, r.text)
    assert mesh.coord.alive()
