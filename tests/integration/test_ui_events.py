"""GET /api/events and GET /api/stats, what the web UI is live on: the
stream says hello once its subscription is live, then carries every job's
state changes and progress reports, a worker joining, draining and leaving, roles created and
deleted, and a stats sample each second; a burst larger than the per-turn
bound ends in "overflow" instead of flooding the browser; the stats
history holds the samples the chart starts from; streams share the
follow cap; the page paths and UI files are public, the event stream is not."""
import signal
import threading
import time

import requests

from conftest import Events, wait_for


def stream(mesh, key="read"):
    h = {"x-api-key": mesh.key(key), "Accept": "text/event-stream"}
    r = requests.get(f"{mesh.url}/api/events", headers=h, stream=True, timeout=30)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("text/event-stream")
    return r, Events(r)


class Collector:
    """Reads a stream on a thread; the test looks at what has arrived."""

    def __init__(self, events):
        self.got = []
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._run, args=(events,), daemon=True)
        self.thread.start()

    def _run(self, events):
        try:
            while (ev := events.next()) is not None:
                with self.lock:
                    self.got.append(ev)
        except (requests.RequestException, AttributeError, OSError):
            pass                # the test closed the response

    def find(self, event, **fields):
        with self.lock:
            return [d for n, _, d in self.got
                    if n == event and all(d.get(k) == v for k, v in fields.items())]

    def wait(self, event, desc=None, **fields):
        return wait_for(lambda: self.find(event, **fields), timeout=15,
                        desc=desc or f"event {event} {fields}")


def test_stream_carries_jobs_workers_roles_and_stats(mesh):
    mesh.start_coordinator(roles=[{"name": "nap", "command": ["sleep", "30"]}])
    resp, events = stream(mesh)
    first = events.next()
    assert first[0] == "hello" and first[2]["time"] > 0
    col = Collector(events)
    try:
        mesh.start_worker("w1", roles="echo,nap", slots=2)
        col.wait("worker", id="w1", state="online")

        r = mesh.http("POST", "/api/jobs", json_body={"role": "echo", "payload": {"x": 1}})
        jid = r.json()["id"]
        for state in ("queued", "running", "succeeded"):
            col.wait("job", id=jid, state=state)
        done = col.find("job", id=jid, state="succeeded")[0]
        assert done == {"id": jid, "role": "echo", "state": "succeeded", "worker": "w1",
                        "attempt": 1}

        nap = mesh.http("POST", "/api/jobs", json_body={"role": "nap"}).json()["id"]
        col.wait("job", id=nap, state="running")
        assert mesh.http("POST", f"/api/jobs/{nap}/cancel").status_code in (200, 202)
        col.wait("job", id=nap, state="cancelled")

        assert mesh.http("POST", "/api/roles", json_body={"name": "fresh", "command": ["true"]}
                         ).status_code == 201
        col.wait("role", name="fresh", deleted=False)
        assert mesh.http("DELETE", "/api/roles/fresh").status_code == 204
        col.wait("role", name="fresh", deleted=True)

        assert mesh.http("PATCH", "/api/clusters/w1", json_body={"state": "draining"}
                         ).status_code == 200
        col.wait("worker", id="w1", state="draining")

        # a stats sample once a second, counting the worker and its slots
        s = col.wait("stats", workers_online=1)[-1]
        assert s["slots_total"] == 2 and s["workers_total"] == 1
        assert set(s) == {"time", "workers_online", "workers_total", "slots_used", "slots_total",
                          "queued", "running", "submitted_per_s", "finished_per_s"}

        mesh.workers["w1"].signal(signal.SIGKILL)
        col.wait("worker", id="w1", state="offline", desc="the killed worker to go offline")
    finally:
        resp.close()


def test_a_burst_ends_in_overflow_not_a_flood(mesh):
    mesh.start_coordinator()
    resp, events = stream(mesh)
    assert events.next()[0] == "hello"
    col = Collector(events)
    try:
        # no worker: 3000 jobs queue at once, 3000 "queued" events in one turn
        ids = mesh.client.submit_many([("echo", f'{{"n":{i}}}', 0, {}) for i in range(3000)])
        assert all(jid for jid, _ in ids)
        over = col.wait("overflow", desc="an overflow event")
        assert over[0]["dropped"] > 0
        assert len(col.find("job")) + sum(o["dropped"] for o in col.find("overflow")) <= 3000
        col.wait("stats", queued=3000)
    finally:
        resp.close()


def test_stats_history_and_auth(mesh):
    mesh.start_coordinator()
    mesh.start_worker("w1", slots=3)
    wait_for(lambda: len(mesh.http("GET", "/api/stats").json()["samples"]) >= 3, timeout=10,
             desc="three stats samples")
    body = mesh.http("GET", "/api/stats", key="read").json()
    assert body["interval_ms"] == 1000
    times = [s["time"] for s in body["samples"]]
    assert times == sorted(times) and len(times) <= 600
    assert body["samples"][-1]["slots_total"] == 3

    assert mesh.http("GET", "/api/events", key=None).status_code == 401
    assert mesh.http("GET", "/api/stats", key=None).status_code == 401
    assert mesh.http("GET", "/api/stats", key="submit:echo").status_code == 403
    assert mesh.http("GET", "/api/events?x=1").status_code == 422


def test_streams_share_the_follow_cap(mesh):
    mesh.start_coordinator(extra=["--http-threads=8"])     # 2 streams at most
    held = [stream(mesh) for _ in range(2)]
    try:
        r = mesh.http("GET", "/api/events")
        assert r.status_code == 503 and r.json()["error"]["code"] == "busy"
    finally:
        for resp, _ in held:
            resp.close()
    # a closed stream gives its place back (the server notices at its next write)
    def slot_free():
        r = mesh.http("GET", "/api/events", stream=True, timeout=5)
        r.close()
        return r.status_code == 200
    wait_for(slot_free, timeout=10, desc="a stream slot to free up")


def test_ui_pages_and_files_are_public_with_a_csp(mesh):
    mesh.start_coordinator()
    for path in ("/", "/login", "/clusters", "/clusters/w1", "/roles", "/roles/echo", "/jobs",
                 "/jobs/0123456789abcdef"):
        r = requests.get(mesh.url + path, timeout=10)
        assert r.status_code == 200, path
        assert r.headers["Content-Type"].startswith("text/html")
        assert "default-src 'self'" in r.headers["Content-Security-Policy"]
        assert r.headers["X-Frame-Options"] == "DENY"
        assert '<script type="module" src="/ui/js/main.js">' in r.text
    js = requests.get(mesh.url + "/ui/js/main.js", timeout=10)
    assert js.status_code == 200 and js.headers["Content-Type"].startswith("text/javascript")
    css = requests.get(mesh.url + "/ui/app.css", timeout=10)
    assert css.status_code == 200 and css.headers["Content-Type"].startswith("text/css")
    again = requests.get(mesh.url + "/ui/app.css", headers={"If-None-Match": css.headers["ETag"]},
                         timeout=10)
    assert again.status_code == 304 and again.content == b""
    for bad in ("/ui/nope.js", "/ui/js/nope.js", "/ui/%2e%2e/%2e%2e/etc/passwd", "/ui/a/b/c.js"):
        r = requests.get(mesh.url + bad, timeout=10)
        assert r.status_code == 404, bad
        assert r.json()["error"]["code"] == "not-found"
    assert requests.post(mesh.url + "/ui/app.css", timeout=10).status_code == 405
    assert requests.head(mesh.url + "/ui/app.css", timeout=10).headers["Content-Length"] == \
        css.headers["Content-Length"]


def test_progress_reports_reach_the_stream(mesh):
    from test_http_worker import EXT, HttpWorker
    mesh.start_coordinator(roles=[EXT])
    resp, events = stream(mesh)
    assert events.next()[0] == "hello"
    col = Collector(events)
    try:
        w = HttpWorker(mesh, "py")
        jid = mesh.submit("ext")
        assert w.take()["job_id"] == jid
        r = w.report({"type": "progress", "job_id": jid, "done": 3, "total": 8, "message": "3/8"})
        assert r.status_code == 200, r.text
        got = col.wait("progress", id=jid)
        assert got[0] == {"id": jid, "done": 3, "total": 8, "message": "3/8"}
        w.report({"type": "progress", "job_id": jid, "done": 4, "total": 8})
        assert col.wait("progress", id=jid, done=4)[0] == {"id": jid, "done": 4, "total": 8}
    finally:
        resp.close()


def _watch_end(events):
    """An Event set when the stream ends (the server closes it)."""
    done = threading.Event()

    def drain():
        try:
            while events.next() is not None:
                pass
        except (requests.RequestException, AttributeError, OSError):
            pass
        done.set()
    threading.Thread(target=drain, daemon=True).start()
    return done


def test_a_stream_ends_with_its_session_or_key(mesh):
    """Logout, a new password or a revoked key ends an open stream (and a log
    follow) within seconds, not at --http-follow-max."""
    from test_http_session import PASSWORD, login, passwd
    from conftest import run_cli
    mesh.start_coordinator(roles=[{"name": "nap", "command": ["sleep", "60"]}])
    mesh.start_worker("w1", roles="nap")
    assert passwd(mesh, "alice").rc == 0
    s, r = login(mesh)
    assert r.status_code == 200
    csrf = r.json()["csrf_token"]

    live = s.get(mesh.url + "/api/events", stream=True, timeout=30)
    assert live.status_code == 200
    ev = Events(live)
    assert ev.next()[0] == "hello"
    jid = mesh.http("POST", "/api/jobs", json_body={"role": "nap"}).json()["id"]
    follow = s.get(mesh.url + f"/api/jobs/{jid}/logs?follow=true", stream=True, timeout=30)
    assert follow.status_code == 200
    ended, follow_ended = _watch_end(ev), _watch_end(Events(follow))
    assert not ended.wait(2.5) and not follow_ended.is_set()   # they hold while it does
    assert s.post(mesh.url + "/api/logout", headers={"X-CSRF-Token": csrf},
                  timeout=10).status_code == 204
    assert ended.wait(10), "the event stream outlived the logout"
    assert follow_ended.wait(10), "the log follow outlived the logout"

    # a new password ends the streams of the user's other sessions too
    s2, _ = login(mesh)
    live2 = s2.get(mesh.url + "/api/events", stream=True, timeout=30)
    ev2 = Events(live2)
    assert ev2.next()[0] == "hello"
    assert passwd(mesh, "alice", PASSWORD + " again").rc == 0
    assert _watch_end(ev2).wait(10), "the event stream outlived a new password"

    # and revoking the key that opened a stream ends it
    made = run_cli(["keys", "create", f"--data-dir={mesh.tmp / 'data'}", "--scope=read",
                    "--name=watcher"])
    key = made.out.strip().splitlines()[-1]
    live3 = requests.get(mesh.url + "/api/events", headers={"x-api-key": key}, stream=True,
                         timeout=30)
    ev3 = Events(live3)
    assert ev3.next()[0] == "hello"
    listed = run_cli(["keys", "list", "--json", f"--data-dir={mesh.tmp / 'data'}"]).json()
    kid = next(k["id"] for k in listed if k.get("name") == "watcher")
    assert run_cli(["keys", "revoke", kid, f"--data-dir={mesh.tmp / 'data'}"]).rc == 0
    assert _watch_end(ev3).wait(10), "the event stream outlived its revoked key"
