"""The role trigger webhook, POST /api/cluster/{cluster_id}/role/{role}/webhook:
202 with a job that runs with the body as its payload, and every refusal
(401, 403 disabled or without permission, 404 wrong cluster or role, 429 at
the queue limit, 400/422 bad bodies) leaving no job behind."""
import json

from conftest import PYTHON

# prints the payload's prompt, and the other fields' names
PRINT_PROMPT = ("import json,sys; p=json.load(sys.stdin); "
                "print(p['prompt'] + '|' + ','.join(sorted(k for k in p if k != 'prompt')), end='')")


def roles():
    return [
        {"name": "agent", "command": [PYTHON, "-c", PRINT_PROMPT]},
        {"name": "echoes", "shell": True, "command": "printf '%s' \"$POPEBOT_JOB_PAYLOAD\""},
        {"name": "locked", "command": ["true"], "permissions": ["submit:deploy", "worker:w9"]},
        {"name": "off", "command": ["true"], "enabled": False},
    ]


def path(mesh, role, cid=None):
    cid = cid or mesh.http("GET", "/api/info").json()["cluster_id"]
    return f"/api/cluster/{cid}/role/{role}/webhook"


def submitted(mesh):
    return mesh.http("GET", "/api/info").json()["jobs_submitted"]


def test_trigger_runs_job_with_prompt(mesh):
    mesh.start_coordinator(roles=roles())
    mesh.start_worker("w1", roles="agent,echoes")
    body = {"prompt": "summarise the logs \u00e9", "repo": "x/y", "n": 2}
    r = mesh.http("POST", path(mesh, "agent"), key="submit:agent", json_body=body)
    assert r.status_code == 202, r.text
    out = r.json()
    assert out["ok"] is True and set(out) == {"ok", "job_id"}
    j = mesh.wait_job(out["job_id"])
    assert j["state"] == "succeeded", j
    assert j["result"] == "summarise the logs \u00e9|n,repo", j
    assert j["role"] == "agent"
    # the body is the payload, field for field
    r = mesh.http("POST", path(mesh, "echoes"), key="submit:*", json_body=body)
    assert r.status_code == 202, r.text
    j = mesh.wait_job(r.json()["job_id"])
    got = j["result"] if isinstance(j["result"], dict) else json.loads(j["result"])
    assert got == body
    # over HTTP too
    r = mesh.http("GET", "/api/jobs/" + out["job_id"], key="read")
    assert r.status_code == 200 and r.json()["payload"]["prompt"] == body["prompt"]


def test_trigger_refusals(mesh):
    mesh.start_coordinator(roles=roles())
    before = submitted(mesh)
    ok = path(mesh, "agent")
    r = mesh.http("POST", ok, key=None, json_body={"prompt": "x"})
    assert r.status_code == 401
    r = mesh.http("POST", ok, key=None, headers={"x-api-key": "pbk_000000000000_" + "A" * 43},
                  json_body={"prompt": "x"})
    assert r.status_code == 401
    # scopes: default permissions are submit:ROLE or submit:*; admin always
    for key in ("read", "submit:other", "worker:w1"):
        r = mesh.http("POST", ok, key=key, json_body={"prompt": "x"})
        assert r.status_code == 403, (key, r.text)
        assert r.json()["error"]["code"] == "forbidden"
    # explicit permissions: only keys covering one of them
    locked = path(mesh, "locked")
    for key in ("submit:locked", "read"):
        assert mesh.http("POST", locked, key=key, json_body={"prompt": "x"}).status_code == 403, key
    # disabled: 403 with a clear word
    r = mesh.http("POST", path(mesh, "off"), key="admin", json_body={"prompt": "x"})
    assert r.status_code == 403 and r.json()["error"]["message"].startswith("role disabled"), r.text
    # unknown role, another cluster
    r = mesh.http("POST", path(mesh, "nosuch"), key="admin", json_body={"prompt": "x"})
    assert r.status_code == 404, r.text
    r = mesh.http("POST", path(mesh, "agent", cid="0" * 32), key="admin", json_body={"prompt": "x"})
    assert r.status_code == 404, r.text
    # bodies
    r = mesh.http("POST", ok, key="admin", data=b"{prompt", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["code"] == "bad-json"
    r = mesh.http("POST", ok, key="admin", data=b"", headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    for bad in ([{"prompt": "x"}], {"prompt": 5}, {"prompt": None}):
        r = mesh.http("POST", ok, key="admin", json_body=bad)
        assert r.status_code == 422, (bad, r.text)
        assert r.json()["error"]["code"] == "invalid"
    assert mesh.http("GET", ok, key="admin").status_code == 405
    assert submitted(mesh) == before
    assert mesh.coord.alive()


def test_trigger_permissions_allow(mesh):
    mesh.start_coordinator(roles=roles())
    for key in ("submit:deploy", "worker:w9", "admin"):
        r = mesh.http("POST", path(mesh, "locked"), key=key, json_body={"prompt": "go"})
        assert r.status_code == 202, (key, r.text)
    for key in ("submit:agent", "submit:*", "admin"):
        r = mesh.http("POST", path(mesh, "agent"), key=key, json_body={"prompt": "go"})
        assert r.status_code == 202, (key, r.text)


def test_trigger_follows_role_edits(mesh):
    mesh.start_coordinator(roles=roles())
    p = path(mesh, "agent")
    assert mesh.http("PATCH", "/api/roles/agent", json_body={"enabled": False}).status_code == 200
    assert mesh.http("POST", p, key="submit:agent", json_body={"prompt": "x"}).status_code == 403
    assert mesh.http("PATCH", "/api/roles/agent",
                     json_body={"enabled": True, "permissions": ["read"]}).status_code == 200
    assert mesh.http("POST", p, key="submit:agent", json_body={"prompt": "x"}).status_code == 403
    assert mesh.http("POST", p, key="read", json_body={"prompt": "x"}).status_code == 202
    assert mesh.http("DELETE", "/api/roles/agent").status_code == 409   # a job waits
    info_path = mesh.http("GET", "/api/roles/agent").json()["webhook_path"]
    assert info_path == p


def test_queue_limit_429(mesh):
    mesh.start_coordinator(roles=roles(), extra=["--queue-limit=2"])
    p = path(mesh, "agent")
    ids = []
    for _ in range(2):
        r = mesh.http("POST", p, key="admin", json_body={"prompt": "q"})
        assert r.status_code == 202, r.text
        ids.append(r.json()["job_id"])
    r = mesh.http("POST", p, key="admin", json_body={"prompt": "q"})
    assert r.status_code == 429, r.text
    assert r.json()["error"]["code"] == "queue-full"
    assert r.json()["error"]["message"].startswith("queue full")
    r = mesh.http("POST", "/api/jobs", json_body={"role": "agent"})
    assert r.status_code == 429, r.text
    r = mesh.http("POST", "/api/jobs", json_body={"role": "echo", "delay_ms": 60000})
    assert r.status_code == 429, r.text
    refused = mesh.client.submit_many([("echo", "{}", 0, {})])
    assert refused[0][0] is None and refused[0][1].startswith("queue full"), refused
    # a worker drains the queue: room again
    mesh.start_worker("w1", roles="agent")
    mesh.wait_jobs(ids, states=("succeeded",))
    r = mesh.http("POST", p, key="admin", json_body={"prompt": "again"})
    assert r.status_code == 202, r.text


def test_odd_role_names_are_404(mesh):
    mesh.start_coordinator(roles=roles())
    for name in ("%C3%28", "a%20b", "x" * 65, "%00"):
        r = mesh.http("POST", path(mesh, name), key="admin", json_body={"prompt": "x"})
        assert r.status_code == 404, (name, r.text)
    assert mesh.coord.alive()
