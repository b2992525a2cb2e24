"""Worker registrations over HTTP (/api/clusters): create, read, change,
delete; their live state for a real ZeroMQ worker; drain and resume; roles
narrowed by an admin; deleting a connected worker."""
import shutil
import signal
import time

from conftest import wait_for


def reg(mesh, wid, key="read"):
    r = mesh.http("GET", f"/api/clusters/{wid}", key=key)
    return r.json() if r.status_code == 200 else None


def wait_reg(mesh, wid, desc, cond):
    return wait_for(lambda: (lambda g: g if g and cond(g) else None)(reg(mesh, wid)),
                    timeout=30, desc=desc)


def test_crud_round_trip(mesh):
    mesh.start_coordinator()
    r = mesh.http("POST", "/api/clusters", json_body={
        "name": "builder", "roles": ["echo"], "labels": {"zone": "a"}, "slots": 2})
    assert r.status_code == 201, r.text
    made = r.json()
    wid, token = made["id"], made["token"]
    assert wid.startswith("w-") and token.startswith("pbw_")
    assert made["webhook_url"] == f"http://127.0.0.1:{mesh.http_port}/api/cluster/{wid}/webhook"
    assert made["kind"] == "http" and made["state"] == "offline"
    assert (made["name"], made["roles"], made["labels"], made["slots"]) == \
        ("builder", ["echo"], {"zone": "a"}, 2)
    assert made["slots_used"] == 0 and made["running"] == [] and made["last_heartbeat"] is None

    # an id of one's own; the same id again is a conflict
    r = mesh.http("POST", "/api/clusters", json_body={"id": "fixed", "name": "f",
                                                      "roles": [], "slots": 1})
    assert r.status_code == 201, r.text
    r = mesh.http("POST", "/api/clusters", json_body={"id": "fixed", "name": "g",
                                                      "roles": [], "slots": 1})
    assert r.status_code == 409 and r.json()["error"]["code"] == "conflict"

    listed = mesh.http("GET", "/api/clusters", key="read")
    assert listed.status_code == 200
    ids = [c["id"] for c in listed.json()["clusters"]]
    assert ids == sorted([wid, "fixed"])
    got = reg(mesh, wid)
    assert got["name"] == "builder" and "token" not in got
    assert token not in listed.text and token[17:] not in listed.text

    # the token is the worker's credential for its own routes
    r = mesh.http("GET", f"/api/cluster/{wid}/jobs/next?wait=0", key=token)
    assert r.status_code == 204, r.text
    assert mesh.http("GET", f"/api/clusters/{wid}", key=token).status_code == 403
    got = reg(mesh, wid)
    assert got["state"] == "online" and isinstance(got["last_heartbeat"], int)

    # bad bodies: nothing changes
    for body, status in ((b"{not json", 400), (b"[1]", 422), (b'{"slots": 0}', 422),
                         (b'{"nickname": "x"}', 422), (b'{"state": "asleep"}', 422),
                         (b'{"roles": "echo"}', 422), (b'{"labels": {"a": 1}}', 422)):
        r = mesh.http("PATCH", f"/api/clusters/{wid}", data=body,
                      headers={"Content-Type": "application/json"})
        assert r.status_code == status, (body, r.text)
    for body in ({"roles": ["echo"], "slots": 1}, {"name": "x", "roles": ["echo"]},
                 {"name": "x", "roles": ["echo"], "slots": 1, "id": "bad id"},
                 {"name": "", "roles": [], "slots": 1},
                 {"name": "x", "roles": ["a", "a"], "slots": 1},
                 {"name": "x", "roles": [], "slots": 1, "extra": 1}):
        r = mesh.http("POST", "/api/clusters", json_body=body)
        assert r.status_code == 422 and r.json()["error"]["code"] == "invalid", (body, r.text)
    assert reg(mesh, wid) == got
    assert mesh.http("PATCH", "/api/clusters/nobody", json_body={"name": "x"}).status_code == 404
    assert mesh.http("POST", "/api/clusters", key="read",
                     json_body={"name": "x", "roles": [], "slots": 1}).status_code == 403

    r = mesh.http("PATCH", f"/api/clusters/{wid}", json_body={
        "name": "renamed", "roles": ["echo", "sleep"], "labels": {"zone": "b"}, "slots": 3})
    assert r.status_code == 200, r.text
    j = r.json()
    assert (j["name"], j["roles"], j["labels"], j["slots"]) == \
        ("renamed", ["echo", "sleep"], {"zone": "b"}, 3)

    # settings survive a restart of the coordinator
    mesh.coord.signal(signal.SIGTERM)
    assert mesh.coord.wait() == 0
    mesh.start_coordinator()
    again = reg(mesh, wid)
    assert (again["name"], again["roles"], again["labels"], again["slots"]) == \
        ("renamed", ["echo", "sleep"], {"zone": "b"}, 3)

    r = mesh.http("DELETE", f"/api/clusters/{wid}")
    assert r.status_code == 204 and r.content == b""
    assert mesh.http("GET", f"/api/clusters/{wid}", key="read").status_code == 404
    assert mesh.http("DELETE", f"/api/clusters/{wid}").status_code == 404
    ids = [c["id"] for c in mesh.http("GET", "/api/clusters").json()["clusters"]]
    assert ids == ["fixed"]
    r = mesh.http("GET", f"/api/cluster/{wid}/jobs/next?wait=0", key=token)
    assert r.status_code == 401


def test_live_state_of_a_zmq_worker(mesh):
    mesh.start_coordinator()
    mesh.start_worker("w1", slots=2, labels="zone=a")
    got = reg(mesh, "w1")
    assert got["kind"] == "zmq" and got["state"] == "online", got
    assert got["slots"] == 2 and got["roles"] == ["echo", "sleep"] and got["labels"] == {"zone": "a"}
    assert got["version"] and got["address"] and isinstance(got["last_heartbeat"], int)
    assert isinstance(got["first_seen"], int) and got["slots_used"] == 0
    jid = mesh.submit("sleep", {"ms": 5000})
    got = wait_reg(mesh, "w1", "w1 to run the job", lambda g: g["slots_used"] == 1)
    assert got["running"] == [jid]
    mesh.wait_job(jid)
    got = wait_reg(mesh, "w1", "w1 to be idle", lambda g: g["slots_used"] == 0)
    assert got["running"] == []


def test_drain_and_resume(mesh):
    mesh.start_coordinator()
    w = mesh.start_worker("w1", slots=2)
    r = mesh.http("PATCH", "/api/clusters/w1", json_body={"state": "draining"})
    assert r.status_code == 200 and r.json()["state"] == "draining", r.text
    jid = mesh.submit("echo", {"x": 1})
    time.sleep(1.0)                  # long enough for a dispatch that must not happen
    assert mesh.job(jid)["state"] == "queued"

    # the admin's drain outlives the worker's reconnect
    w.signal(signal.SIGKILL)
    w.wait()
    mesh.start_worker("w1", slots=2, wait=False)
    mesh.wait_worker("w1", "draining")
    assert mesh.job(jid)["state"] == "queued"

    r = mesh.http("PATCH", "/api/clusters/w1", json_body={"state": "online"})
    assert r.status_code == 200 and r.json()["state"] == "online"
    assert mesh.wait_job(jid)["state"] == "succeeded"


def test_patch_roles_narrows_a_zmq_worker(mesh):
    mesh.start_coordinator()
    mesh.start_worker("w1", roles="echo,sleep", slots=4)
    r = mesh.http("PATCH", "/api/clusters/w1", json_body={"roles": ["sleep", "other"], "slots": 2})
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["roles"] == ["sleep"] and got["slots"] == 2
    assert got["offered"] == {"roles": ["echo", "sleep"], "labels": {}, "slots": 4}
    assert mesh.worker_info("w1")["roles"] == ["sleep"]

    echo = mesh.submit("echo", {"x": 1})
    sleep = mesh.submit("sleep", {"ms": 1})
    assert mesh.wait_job(sleep)["state"] == "succeeded"
    assert mesh.job(echo)["state"] == "queued"

    # the restriction survives a coordinator restart and the worker's new HELLO
    mesh.coord.signal(signal.SIGTERM)
    assert mesh.coord.wait() == 0
    mesh.start_coordinator()
    mesh.wait_worker("w1", "online")
    assert reg(mesh, "w1")["roles"] == ["sleep"]
    assert mesh.job(echo)["state"] == "queued"

    r = mesh.http("PATCH", "/api/clusters/w1", json_body={"roles": ["echo", "sleep"]})
    assert r.status_code == 200 and r.json()["roles"] == ["echo", "sleep"]
    assert mesh.wait_job(echo)["state"] == "succeeded"


def test_delete_a_connected_worker(mesh):
    mesh.start_coordinator()
    r = mesh.http("POST", "/api/clusters", json_body={"id": "w1", "name": "w1",
                                                      "roles": ["sleep"], "slots": 1})
    assert r.status_code == 201
    token = r.json()["token"]
    w1 = mesh.start_worker("w1", roles="echo,sleep", slots=2)
    got = reg(mesh, "w1")
    assert got["kind"] == "zmq" and got["roles"] == ["sleep"] and got["slots"] == 1
    jid = mesh.submit("sleep", {"ms": 1500})
    wait_reg(mesh, "w1", "w1 to run the job", lambda g: g["running"] == [jid])
    mesh.start_worker("w2", roles="sleep", slots=1)

    r = mesh.http("DELETE", "/api/clusters/w1")
    assert r.status_code == 204, r.text
    j = mesh.wait_job(jid)
    assert j["state"] == "succeeded" and j["worker"] == "w2", j
    assert mesh.http("GET", "/api/clusters/w1").status_code == 404
    r = mesh.http("POST", "/api/cluster/w1/webhook", key=token,
                  json_body={"type": "status", "state": "online"})
    assert r.status_code == 401

    # w1 keeps trying and is refused each time: never listed again
    wait_for(lambda: w1.log_text().count("deleted") >= 2, timeout=30,
             desc="w1 to be refused after reconnecting")
    assert w1.alive()
    assert mesh.worker_info("w1") is None
    assert mesh.http("GET", "/api/clusters/w1").status_code == 404

    # created again, the id is welcome again, but only with a newly enrolled
    # key: deleting the registration revoked the old one for good
    r = mesh.http("POST", "/api/clusters", json_body={"id": "w1", "name": "back",
                                                      "roles": ["echo"], "slots": 1})
    assert r.status_code == 201
    w1.cleanup()
    shutil.rmtree(mesh.tmp / "keys" / "w1")
    mesh.start_worker("w1", roles="echo,sleep", slots=2, wait=False)
    got = wait_reg(mesh, "w1", "w1 to come back", lambda g: g["state"] == "online")
    assert got["name"] == "back" and got["roles"] == ["echo"]


def test_disconnect_ends_the_session_and_the_worker_comes_back(mesh):
    mesh.start_coordinator()
    w1 = mesh.start_worker("w1", roles="sleep", slots=1)
    jid = mesh.submit("sleep", {"ms": 60000})
    wait_reg(mesh, "w1", "w1 to run the job", lambda g: g["running"] == [jid])

    r = mesh.http("POST", "/api/clusters/w1/disconnect")
    assert r.status_code == 204, r.text
    # the worker was told, cancelled the job there, and comes back by itself
    wait_for(lambda: "error disconnected" in w1.log_text(), timeout=15,
             desc="w1 to be told it was disconnected")
    wait_reg(mesh, "w1", "w1 to come back online", lambda g: g["state"] == "online")
    assert w1.alive()
    # the job went back to the queue without spending an attempt, and runs again
    job = wait_for(lambda: (lambda j: j if j["state"] == "running" and j["attempts"] >= 2 else None)(
        mesh.http("GET", f"/api/jobs/{jid}").json()), timeout=30, desc="the job to run again")
    assert job["worker"] == "w1"
    assert mesh.http("GET", "/api/clusters/w1").json()["running"] == [jid]

    # a registration nobody is connected to: 409; an unknown id: 404; a read key: 403
    made = mesh.http("POST", "/api/clusters", json_body={"name": "idle", "roles": ["sleep"], "slots": 1})
    assert made.status_code == 201, made.text
    made = made.json()
    r = mesh.http("POST", f"/api/clusters/{made['id']}/disconnect")
    assert r.status_code == 409 and "not connected" in r.json()["error"]["message"]
    assert mesh.http("POST", "/api/clusters/nobody/disconnect").status_code == 404
    assert mesh.http("POST", "/api/clusters/w1/disconnect", key="read").status_code == 403
