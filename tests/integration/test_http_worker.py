"""HTTP-only workers: a worker written here in Python with requests alone
polls GET /api/cluster/{id}/jobs/next and reports on
POST /api/cluster/{id}/webhook (log, progress, result, status). Results,
retries, tokens, stale reports and silent workers behave as over ZeroMQ."""
import requests

from conftest import wait_for

EXT = {"name": "ext", "command": ["/bin/true"], "max_attempts": 2,
       "backoff_base_ms": 50, "backoff_max_ms": 100}


class HttpWorker:
    """A worker that speaks HTTP only, as a user would write one."""

    def __init__(self, mesh, name, roles=("ext",), slots=1):
        r = mesh.http("POST", "/api/clusters", json_body={"name": name, "roles": list(roles),
                                                          "slots": slots})
        assert r.status_code == 201, r.text
        made = r.json()
        self.id, self.token, self.hook = made["id"], made["token"], made["webhook_url"]
        self.base = mesh.url + f"/api/cluster/{self.id}"

    def next(self, wait=10, token=None):
        return requests.get(self.base + f"/jobs/next?wait={wait}", timeout=(wait if isinstance(wait, int) else 0) + 30,
                            headers={"x-api-key": token or self.token})

    def take(self, wait=20):
        r = self.next(wait)
        assert r.status_code == 200, (r.status_code, r.text)
        return r.json()

    def report(self, body, token=None, raw=None):
        return requests.post(self.hook, json=None if raw is not None else body, data=raw,
                             headers={"x-api-key": token or self.token}, timeout=30)


def test_an_http_worker_runs_a_job(mesh):
    mesh.start_coordinator(roles=[EXT])
    w = HttpWorker(mesh, "py")
    jid = mesh.submit("ext", {"n": 5})
    lease = w.take()
    assert (lease["job_id"], lease["attempt"], lease["role"]) == (jid, 1, "ext")
    assert lease["payload"] == {"n": 5} and lease["command"] == ["/bin/true"]

    r = w.report({"type": "log", "job_id": jid, "lines": ["hello", "world"]})
    assert r.status_code == 200 and r.json()["ok"] is True, r.text
    r = w.report({"type": "progress", "job_id": jid, "done": 1, "total": 2, "message": "half"})
    assert r.status_code == 200, r.text
    job = mesh.http("GET", f"/api/jobs/{jid}", key="read").json()
    assert job["state"] == "running" and job["progress"] == {"done": 1, "total": 2,
                                                             "message": "half"}
    got = mesh.http("GET", f"/api/clusters/{w.id}").json()
    assert got["state"] == "online" and got["running"] == [jid] and got["slots_used"] == 1

    # malformed reports change nothing
    for raw, status in ((b"{nope", 400), (b"[]", 422), (b'{"type": "bogus"}', 422),
                        (b'{"type": "log", "job_id": "%s", "lines": "x"}' % jid.encode(), 422),
                        (b'{"type": "result", "job_id": "%s", "status": "won"}' % jid.encode(),
                         422),
                        (b'{"type": "progress", "job_id": "%s", "done": -1, "total": 2}'
                         % jid.encode(), 422)):
        r = w.report(None, raw=raw)
        assert r.status_code == status, (raw, r.text)
    assert mesh.job(jid)["state"] == "running"
    r = w.report({"type": "log", "job_id": "0000000000000001", "lines": ["x"]})
    assert r.status_code == 404, r.text

    r = w.report({"type": "result", "job_id": jid, "status": "succeeded", "result": {"sum": 15}})
    assert r.status_code == 200, r.text
    job = mesh.wait_job(jid)
    assert job["state"] == "succeeded" and job["result"] == {"sum": 15} and job["worker"] == w.id
    assert job["log"] == "hello\nworld\n", job

    # the lease is over: a late report is stale
    r = w.report({"type": "log", "job_id": jid, "lines": ["late"]})
    assert r.status_code == 409 and r.json()["error"]["code"] == "conflict"
    assert w.next(wait=0).status_code == 204


def test_a_failed_result_is_retried(mesh):
    mesh.start_coordinator(roles=[EXT])
    w = HttpWorker(mesh, "py")
    jid = mesh.submit("ext", {})
    first = w.take()
    r = w.report({"type": "result", "job_id": jid, "status": "failed", "error": "boom",
                  "exit_code": 3})
    assert r.status_code == 200, r.text
    second = w.take()
    assert (second["job_id"], second["attempt"]) == (jid, first["attempt"] + 1)
    # a report naming the old attempt is stale
    r = w.report({"type": "log", "job_id": jid, "attempt": 1, "lines": ["old"]})
    assert r.status_code == 409
    r = w.report({"type": "result", "job_id": jid, "attempt": 2, "status": "failed",
                  "error": "boom again"})
    assert r.status_code == 200
    job = mesh.wait_job(jid)
    assert job["state"] == "dead" and job["attempts"] == 2 and "boom again" in job["error"], job


def test_tokens_are_per_worker(mesh):
    mesh.start_coordinator(roles=[EXT])
    a, b = HttpWorker(mesh, "a"), HttpWorker(mesh, "b")
    jid = mesh.submit("ext", {})
    assert a.take()["job_id"] == jid
    r = a.report({"type": "log", "job_id": jid, "lines": ["x"]}, token=b.token)
    assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
    assert a.next(wait=0, token=b.token).status_code == 403
    assert a.next(wait=0, token=mesh.key("read")).status_code == 403
    # b's own webhook, a's lease: conflict
    r = b.report({"type": "result", "job_id": jid, "status": "succeeded"})
    assert r.status_code == 409
    assert mesh.job(jid)["state"] == "running"
    # an admin key may report for any worker
    r = a.report({"type": "result", "job_id": jid, "status": "succeeded"}, token=mesh.key("admin"))
    assert r.status_code == 200
    assert mesh.wait_job(jid)["state"] == "succeeded"


def test_wait_bounds_and_status(mesh):
    mesh.start_coordinator(roles=[EXT])
    w = HttpWorker(mesh, "py")
    for bad in ("61", "-1", "abc", "1.5", ""):
        r = w.next(wait=bad)
        assert r.status_code == 422, (bad, r.text)
    assert w.next(wait=0).status_code == 204
    assert w.next(wait=1).status_code == 204
    # the worker drains itself: no job comes; online again, it gets one
    r = w.report({"type": "status", "state": "draining"})
    assert r.status_code == 200 and r.json()["state"] == "draining"
    jid = mesh.submit("ext", {})
    assert w.next(wait=1).status_code == 204
    assert mesh.job(jid)["state"] == "queued"
    assert w.report({"type": "status", "state": "online"}).json()["state"] == "online"
    assert w.take()["job_id"] == jid


def test_a_silent_http_worker_loses_its_lease(mesh):
    mesh.start_coordinator(roles=[EXT], extra=["--http-worker-timeout=1s"])
    quiet, other = HttpWorker(mesh, "quiet"), HttpWorker(mesh, "other")
    jid = mesh.submit("ext", {})
    assert quiet.take()["job_id"] == jid
    # quiet says nothing more: its lease goes back to the queue and other gets it
    lease = other.take(wait=30)
    assert (lease["job_id"], lease["attempt"]) == (jid, 2)
    assert mesh.http("GET", f"/api/clusters/{quiet.id}").json()["state"] == "offline"
    r = quiet.report({"type": "result", "job_id": jid, "status": "succeeded"})
    assert r.status_code == 409
    assert other.report({"type": "result", "job_id": jid, "status": "succeeded",
                         "result": "fine"}).status_code == 200
    job = mesh.wait_job(jid)
    assert job["state"] == "succeeded" and job["worker"] == other.id and job["result"] == "fine"


def test_a_poll_waits_for_a_job(mesh):
    """A job submitted while the poll waits is handed to it."""
    mesh.start_coordinator(roles=[EXT])
    w = HttpWorker(mesh, "py")
    import threading
    got = {}
    t = threading.Thread(target=lambda: got.setdefault("r", w.next(wait=30)))
    t.start()
    wait_for(lambda: mesh.http("GET", f"/api/clusters/{w.id}").json()["state"] == "online",
             desc="the poll to arrive")
    jid = mesh.submit("ext", {"late": True})
    t.join(60)
    r = got["r"]
    assert r.status_code == 200 and r.json()["job_id"] == jid and r.json()["payload"] == {"late": True}


def test_a_zmq_connected_registration_does_not_poll(mesh):
    mesh.start_coordinator(roles=[EXT])
    mesh.start_worker("w1")
    r = mesh.http("GET", "/api/cluster/w1/jobs/next?wait=0")
    assert r.status_code == 409
    assert mesh.http("GET", "/api/cluster/nobody/jobs/next?wait=0").status_code == 404


def test_cancel_of_a_job_on_an_http_worker(mesh):
    """Nobody can be told over HTTP: the job ends cancelled at once, and the
    worker learns from the 409 its next report about it gets."""
    mesh.start_coordinator(roles=[EXT])
    w = HttpWorker(mesh, "py")
    jid = mesh.submit("ext", {})
    assert w.take()["job_id"] == jid
    r = mesh.http("POST", f"/api/jobs/{jid}/cancel")
    assert r.status_code == 200, r.text
    assert mesh.wait_job(jid)["state"] == "cancelled"
    r = w.report({"type": "result", "job_id": jid, "status": "succeeded"})
    assert r.status_code == 409
    got = mesh.http("GET", f"/api/clusters/{w.id}").json()
    assert got["running"] == [] and got["slots_used"] == 0


def test_a_job_handed_to_an_abandoned_poll_runs_again(mesh):
    """The client of a poll gives up, then a job arrives and is handed to that
    poll: nobody reads it. The worker keeps polling (so it is not silent), but
    nothing names the job for --http-worker-timeout: the lease is lost and the
    job comes back, to this worker's next poll."""
    mesh.start_coordinator(roles=[EXT], extra=["--http-worker-timeout=2s"])
    w = HttpWorker(mesh, "py")
    try:
        requests.get(w.base + "/jobs/next?wait=30", timeout=1,
                     headers={"x-api-key": w.token})
        raise AssertionError("the poll should have been abandoned")
    except requests.exceptions.ReadTimeout:
        pass
    jid = mesh.submit("ext", {"lost": 1})
    wait_for(lambda: mesh.http("GET", f"/api/jobs/{jid}").json()["state"] == "running",
             desc="the job to go to the abandoned poll")

    def again():
        r = w.next(wait=1)
        return r.json() if r.status_code == 200 else None
    lease = wait_for(again, timeout=30, desc="the job to be handed out again")
    assert (lease["job_id"], lease["attempt"]) == (jid, 2)
    assert "stopped reporting" in mesh.coord.log_text()


def test_status_reports_keep_a_silent_job_leased(mesh):
    """A job that runs longer than --http-worker-timeout without output keeps
    its lease while the worker lists it in status reports."""
    mesh.start_coordinator(roles=[EXT], extra=["--http-worker-timeout=1s"])
    w = HttpWorker(mesh, "py")
    jid = mesh.submit("ext", {})
    assert w.take()["job_id"] == jid
    import time
    for _ in range(12):               # 3 s, three timeouts' worth
        r = w.report({"type": "status", "state": "online", "running": [jid]})
        assert r.status_code == 200, r.text
        time.sleep(0.25)
    assert mesh.http("GET", f"/api/jobs/{jid}").json()["attempts"] == 1
    assert w.report({"type": "result", "job_id": jid, "status": "succeeded"}).status_code == 200
    assert mesh.wait_job(jid)["state"] == "succeeded"
    r = w.report({"type": "status", "state": "online", "running": "nope"})
    assert r.status_code == 422
