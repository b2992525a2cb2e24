"""POST /api/join-tokens, behind the UI's "Register worker" dialog: the
token enrolls a real worker once (uses 1 by default) and then no more; it
names --bind, or the request's host when --bind is a wildcard; it is listed
by `join-token --list` like a CLI token; bad bodies are 422, a read key 403,
and an --insecure mesh, which needs no token, 409."""
import time

from conftest import decode_token, free_port, run_cli, wait_for


def test_token_enrolls_one_worker(mesh):
    mesh.start_coordinator()
    r = mesh.http("POST", "/api/join-tokens")
    assert r.status_code == 201, r.text
    body = r.json()
    assert set(body) == {"id", "token", "expires", "uses", "coordinator"}
    assert body["uses"] == 1 and body["coordinator"] == mesh.endpoint
    assert body["token"].startswith("pbj1_") and body["expires"] > 0
    tid, _, _, endpoint = decode_token(body["token"])
    assert tid == body["id"] and endpoint == mesh.endpoint

    mesh.start_worker("fresh", env={"POPEBOT_JOIN": body["token"]})
    # spent: a second node cannot enroll with it
    mesh.start_worker("second", env={"POPEBOT_JOIN": body["token"]}, wait=False)
    wait_for(lambda: "is not enrolled" in mesh.coord.log_text(), timeout=20,
             desc="the coordinator to refuse the second enrollment's handshake")
    assert "second" not in {w["id"] for w in mesh.http("GET", "/api/clusters").json()["clusters"]}

    listed = run_cli(["join-token", "--list", "--json", f"--data-dir={mesh.tmp / 'data'}"]).json()
    mine = next(t for t in listed if t["id"] == body["id"])
    assert mine["used"] == 1 and mine["usable"] is False
    assert body["token"] not in mesh.coord.log_text()


def test_wildcard_bind_takes_the_request_host(mesh):
    mesh.port = free_port()
    mesh.start_coordinator(extra=[f"--bind=tcp://*:{mesh.port}"])
    body = mesh.http("POST", "/api/join-tokens", json_body={"ttl_s": 600, "uses": 0}).json()
    assert body["coordinator"] == f"tcp://127.0.0.1:{mesh.port}"
    assert body["uses"] == 0
    assert 590_000 <= body["expires"] - int(time.time() * 1000) <= 600_000
    mesh.start_worker("any1", env={"POPEBOT_JOIN": body["token"]})
    mesh.start_worker("any2", env={"POPEBOT_JOIN": body["token"]})
    # an IPv6 host in brackets is kept whole; a Host that names nothing usable
    # cannot go into a token (a worker could not dial "*")
    v6 = mesh.http("POST", "/api/join-tokens", headers={"Host": "[::1]:8080"}).json()
    assert v6["coordinator"] == f"tcp://[::1]:{mesh.port}"
    for bad in ("[::1", "bad_host!", "[zz]"):
        r = mesh.http("POST", "/api/join-tokens", headers={"Host": bad})
        assert r.status_code == 422 and "--coordinator" in r.json()["error"]["message"], (bad, r.text)


def test_bad_requests(mesh):
    mesh.start_coordinator()
    for bad in ({"ttl_s": 10}, {"ttl_s": "1h"}, {"uses": -1}, {"uses": 1.5}, {"host": "evil"},
                {"nope": 1}, [1]):
        r = mesh.http("POST", "/api/join-tokens", json_body=bad)
        assert r.status_code == 422, (bad, r.text)
        assert r.json()["error"]["code"] == "invalid"
    r = mesh.http("POST", "/api/join-tokens", data=b"{nope")
    assert r.status_code == 400
    assert mesh.http("POST", "/api/join-tokens", key="read").status_code == 403
    assert mesh.http("POST", "/api/join-tokens", key=None).status_code == 401
    listed = run_cli(["join-token", "--list", "--json", f"--data-dir={mesh.tmp / 'data'}"]).json()
    assert listed == []        # nothing refused made a token


def test_insecure_mesh_needs_no_token(mesh):
    mesh.insecure = True
    mesh.start_coordinator()
    r = mesh.http("POST", "/api/join-tokens")
    assert r.status_code == 409 and "--insecure" in r.json()["error"]["message"]
