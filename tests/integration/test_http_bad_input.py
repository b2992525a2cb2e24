"""Bad input to every HTTP route, table-driven: malformed JSON and bad UTF-8
(400), wrong types and missing or unknown fields (422), unknown ids (404),
wrong methods (405), bodies over --http-max-body (413). Every answer is the
error envelope. Afterwards the coordinator is healthy, still runs jobs, and
its store holds exactly what it held before (mdb_dump of every database)."""
import subprocess

import pytest

MAX_BODY = 4096
JOB = "0000000000000000"   # a well-formed id no job has

# (method, path, body, expected status, expected code); body: bytes sent raw,
# or a dict/list sent as JSON, or None.
BAD_JSON = [b"{", b"{\"role\": }", b"nul", b"\xff\xfe{}", b"{\"role\": \"\xc3\x28\"}",
            b"[1, 2", b"\"just a string\"", b"42"]
POSTS = ["/api/jobs", "/api/clusters", "/api/roles", "/api/cluster/{cid}/role/echo/webhook",
         "/api/cluster/w-none/webhook"]
PATCHES = ["/api/clusters/w-none", "/api/roles/echo"]

SHAPES = [
    ("POST", "/api/jobs", {}, 422),
    ("POST", "/api/jobs", {"role": 5}, 422),
    ("POST", "/api/jobs", {"role": "echo", "priority": "high"}, 422),
    ("POST", "/api/jobs", {"role": "echo", "delay_ms": -1}, 422),
    ("POST", "/api/jobs", {"role": "echo", "where": ["a"]}, 422),
    ("POST", "/api/jobs", {"role": "echo", "where": {"a": 1}}, 422),
    ("POST", "/api/jobs", {"role": "echo", "colour": "red"}, 422),
    ("POST", "/api/jobs", [], 422),
    ("POST", "/api/jobs", [{"role": "echo"}, 7], 422),
    ("POST", "/api/clusters", {"name": 5}, 422),
    ("POST", "/api/clusters", {"name": "x", "slots": "four"}, 422),
    ("POST", "/api/clusters", {"name": "x", "roles": "echo"}, 422),
    ("POST", "/api/clusters", {"name": "x", "nonsense": True}, 422),
    ("POST", "/api/roles", {"name": "r1"}, 422),
    ("POST", "/api/roles", {"name": "bad name!", "command": ["true"]}, 422),
    ("POST", "/api/roles", {"name": "r2", "command": "true", "timeout": []}, 422),
    ("POST", "/api/roles", {"name": "r3", "command": ["true"], "colour": 1}, 422),
    ("PATCH", "/api/roles/echo", {"command": ["true"]}, 409),
    ("POST", "/api/roles", {"name": "q", "shell": True, "command": "echo \"{{PAYLOAD}}\""}, 422),
    ("POST", "/api/roles", {"name": "q", "shell": True, "command": "cat <<E\n{{PAYLOAD}}\nE"},
     422),
    ("POST", "/api/cluster/w-none/webhook", {"type": "log", "job_id": JOB, "lines": ["x"]}, 404),
]

UNKNOWN = [
    ("GET", f"/api/jobs/{JOB}"), ("GET", "/api/jobs/not-an-id"),
    ("POST", f"/api/jobs/{JOB}/cancel"), ("POST", f"/api/jobs/{JOB}/retry"),
    ("GET", f"/api/jobs/{JOB}/logs"),
    ("GET", "/api/clusters/w-none"), ("PATCH", "/api/clusters/w-none"),
    ("DELETE", "/api/clusters/w-none"),
    ("GET", "/api/roles/none"), ("PATCH", "/api/roles/none"), ("DELETE", "/api/roles/none"),
    ("POST", "/api/cluster/not-this-cluster/role/echo/webhook"),
    ("POST", "/api/cluster/{cid}/role/none/webhook"),
    ("GET", "/api/nothing"), ("GET", "/api/jobs/x/y/z"),
]

WRONG_METHOD = [
    ("PUT", "/api/jobs"), ("DELETE", "/api/jobs"), ("POST", "/api/info"),
    ("DELETE", f"/api/jobs/{JOB}"), ("GET", f"/api/jobs/{JOB}/cancel"),
    ("PUT", "/api/clusters"), ("POST", "/api/clusters/w-none"), ("PUT", "/api/roles/echo"),
    ("GET", "/api/cluster/w-none/webhook"), ("POST", "/api/cluster/w-none/jobs/next"),
    ("GET", "/api/cluster/{cid}/role/echo/webhook"), ("POST", "/metrics"),
    ("POST", "/healthz"),
]


def _dump(mesh):
    """Every database of the job store and the credentials, as text."""
    out = []
    for d in (mesh.tmp / "data", mesh.tmp / "data" / "auth"):
        r = subprocess.run(["mdb_dump", "-a", str(d)], capture_output=True, timeout=60)
        assert r.returncode == 0, r.stderr
        out.append(r.stdout)
    return out


def _check(failures, what, r, status, code=None):
    ok = r.status_code == status
    try:
        err = r.json()["error"]
        ok = ok and isinstance(err["message"], str) and (code is None or err["code"] == code)
    except Exception:                       # noqa: BLE001 - any non-envelope is a failure
        ok = False
    if not ok:
        failures.append(f"{what}: wanted {status} {code or ''}, got {r.status_code} {r.text[:200]}")


def test_bad_input_table(mesh):
    mesh.start_coordinator(extra=[f"--http-max-body={MAX_BODY}"])
    mesh.start_worker("w1")
    cid = mesh.http("GET", "/api/info").json()["cluster_id"]
    key = mesh.key("admin")
    assert mesh.wait_job(mesh.submit("echo", {"before": True}))["state"] == "succeeded"
    before = _dump(mesh)
    fails = []

    def send(method, path, body, extra=None):
        path = path.replace("{cid}", cid)
        h = {"x-api-key": key, **(extra or {})}
        if isinstance(body, (bytes, type(None))):
            return mesh.http(method, path, key=None, data=body, headers=h)
        return mesh.http(method, path, key=None, json_body=body, headers=h)

    for path in POSTS:
        for raw in BAD_JSON:
            r = send("POST", path, raw, {"Content-Type": "application/json"})
            _check(fails, f"POST {path} {raw!r}", r, 400, "bad-json")
        r = send("POST", path, b"[" + b"1," * MAX_BODY + b"1]")
        _check(fails, f"POST {path} over the limit", r, 413, "too-large")
    for path in PATCHES:
        r = send("PATCH", path, b"{", {"Content-Type": "application/json"})
        _check(fails, f"PATCH {path} bad json", r, 400, "bad-json")
    for method, path, body, status in SHAPES:
        r = send(method, path, body)
        _check(fails, f"{method} {path} {body!r}", r, status)
    for method, path in UNKNOWN:
        r = send(method, path, {} if method in ("PATCH", "POST") else None)
        _check(fails, f"{method} {path}", r, 404)
    for method, path in WRONG_METHOD:
        r = send(method, path, None)
        _check(fails, f"{method} {path}", r, 405, "method-not-allowed")
    assert not fails, "\n".join(fails)

    # healthy, still serving, and nothing stored changed
    assert mesh.http("GET", "/readyz", key=None).status_code == 200
    assert mesh.coord.alive()
    assert _dump(mesh) == before
    r = mesh.http("POST", "/api/jobs", json_body={"role": "echo", "payload": {"after": 1}})
    assert r.status_code == 202
    assert mesh.wait_job(r.json()["id"])["state"] == "succeeded"


def test_method_details(mesh):
    """405 names what the path allows; HEAD works where GET changes nothing,
    but not on the job poll (it would lease a job nobody sees); the job
    poll refuses unknown or long parameters; reason phrases are standard."""
    mesh.start_coordinator()
    r = mesh.http("PUT", "/api/clusters/w-x")
    assert r.status_code == 405 and r.headers["Allow"] == "GET, PATCH, DELETE"
    assert "allowed: GET, PATCH, DELETE" in r.json()["error"]["message"]
    r = mesh.http("DELETE", "/api/jobs")
    assert r.headers["Allow"] == "POST, GET"
    assert mesh.http("HEAD", "/api/info").status_code == 200
    reg = mesh.http("POST", "/api/clusters", json_body={"name": "h", "roles": ["echo"],
                                                        "slots": 1}).json()
    mesh.http("POST", "/api/jobs", json_body={"role": "echo"})
    r = mesh.http("HEAD", f"/api/cluster/{reg['id']}/jobs/next?wait=0", key=reg["token"])
    assert r.status_code == 405
    nxt = f"/api/cluster/{reg['id']}/jobs/next"
    for q in ("?wait=0&colour=red", "?wait=" + "0" * 40, "?wait=61", "?wait=-1"):
        r = mesh.http("GET", nxt + q, key=reg["token"])
        assert r.status_code == 422, q
    assert "Unprocessable Content" in r.reason
    job = mesh.http("GET", nxt + "?wait=5", key=reg["token"])   # the job is still there
    assert job.status_code == 200 and job.json()["role"] == "echo"


def test_long_responses_are_capped_and_bytes_checked(mesh):
    """Log follows may hold at most a quarter of the HTTP threads and job
    polls half, so they cannot shut out everything else; query values and
    path ids that are not UTF-8 are refused, never silently dropped."""
    import threading
    import requests
    roles = [{"name": "slow", "command": ["/bin/sh", "-c", "echo start; sleep 30"]}]
    mesh.start_coordinator(roles=roles, extra=["--http-threads=8"])
    mesh.start_worker("w1", roles="slow")
    jid = mesh.http("POST", "/api/jobs", json_body={"role": "slow"}).json()["id"]
    mesh.wait_job(jid, "running")
    streams = []
    for _ in range(2):                      # 8 / 4 = 2 follows
        s = requests.get(f"{mesh.url}/api/jobs/{jid}/logs?follow=true", stream=True,
                         headers={"x-api-key": mesh.key("read")}, timeout=30)
        assert s.status_code == 200
        streams.append(s)
    r = mesh.http("GET", f"/api/jobs/{jid}/logs?follow=true", key="read")
    assert r.status_code == 503 and r.json()["error"]["code"] == "busy"
    assert mesh.http("GET", "/healthz", key=None, timeout=5).status_code == 200
    for s in streams:
        s.close()

    reg = mesh.http("POST", "/api/clusters", json_body={"name": "p", "roles": ["slow"],
                                                        "slots": 1}).json()
    polls, threads = [], []
    for _ in range(4):                      # 8 / 2 = 4 polls
        t = threading.Thread(target=lambda: polls.append(mesh.http(
            "GET", f"/api/cluster/{reg['id']}/jobs/next?wait=3", key=reg["token"])))
        t.start()
        threads.append(t)
    import time
    time.sleep(1)
    r = mesh.http("GET", f"/api/cluster/{reg['id']}/jobs/next?wait=0", key=reg["token"])
    assert r.status_code == 503 and r.json()["error"]["code"] == "busy"

    for q in ("role=%FF%FE", "worker=%C3%28", "cursor=%FF"):
        r = mesh.http("GET", "/api/jobs?" + q, key="read")
        assert r.status_code == 422 and "UTF-8" in r.json()["error"]["message"], q
    for path in ("/api/jobs/%FF", "/api/clusters/%C3%28", "/api/roles/%FF"):
        assert mesh.http("GET", path).status_code == 404, path
    for t in threads:
        t.join(30)
    assert sorted(p.status_code for p in polls) == [204] * 4
