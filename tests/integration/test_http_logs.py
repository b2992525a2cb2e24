"""GET /api/jobs/{id}/logs: byte ranges that reassemble a job's whole
output (multi-byte UTF-8 never split between ranges), and the live follow
as Server-Sent Events: lines arrive as the job prints them, the stream ends
with "end", a reconnect with Last-Event-ID resumes without duplicates, and
--http-follow-max bounds a stream."""

import requests

from conftest import Events

LINES = 5000


def roles(tmp):
    gate = tmp / "gate"
    gate.mkdir(exist_ok=True)
    return [
        # numbered lines with a two-byte and a three-byte character in each
        {"name": "count", "shell": True, "timeout_ms": 60000,
         "command": f"for i in $(seq 1 {LINES}); do echo \"línea $i €\"; done"},
        # prints line N, then waits for the test to open gate N
        {"name": "gated", "shell": True, "timeout_ms": 120000,
         "command": f"for i in 1 2 3; do echo \"line $i\"; "
                    f"while [ ! -e {gate}/$i ]; do sleep 0.02; done; done"},
    ]


def expected_count():
    return "".join(f"línea {i} €\n" for i in range(1, LINES + 1))


def start(mesh, extra=()):
    mesh.start_coordinator(roles=roles(mesh.tmp), extra=list(extra))
    mesh.start_worker("w1", roles="count,gated", slots=4)


def open_gate(mesh, n):
    (mesh.tmp / "gate" / str(n)).touch()


def follow(mesh, jid, last_id=None, query=""):
    h = {"x-api-key": mesh.key("read"), "Accept": "text/event-stream"}
    if last_id is not None:
        h["Last-Event-ID"] = str(last_id)
    r = requests.get(f"{mesh.url}/api/jobs/{jid}/logs?follow=true{query}", headers=h,
                     stream=True, timeout=60)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/event-stream")
    return r, Events(r)


def test_ranges_reassemble_the_output(mesh):
    start(mesh)
    jid = mesh.submit("count")
    mesh.wait_job(jid, "succeeded")
    text, offset, pages = "", 0, 0
    while True:
        r = mesh.http("GET", f"/api/jobs/{jid}/logs?offset={offset}&limit=997", key="read")
        assert r.status_code == 200, r.text
        page = r.json()
        assert page["job_id"] == jid and page["offset"] == offset and page["dropped"] == 0
        assert page["state"] == "succeeded"
        assert page["next_offset"] - offset <= 997
        assert len(page["data"].encode()) == page["next_offset"] - offset   # no repairs
        text += page["data"]
        offset = page["next_offset"]
        pages += 1
        if page["complete"]:
            break
        assert page["next_offset"] > page["offset"]
    assert text == expected_count() and pages > 10
    assert offset == len(expected_count().encode()) == page["end"]
    # one big read, and reads at and past the end
    whole = mesh.http("GET", f"/api/jobs/{jid}/logs?limit=1048576").json()
    assert whole["data"] == expected_count() and whole["complete"] is True
    tail = mesh.http("GET", f"/api/jobs/{jid}/logs?offset={offset + 50}").json()
    assert tail["data"] == "" and tail["offset"] == offset and tail["complete"] is True
    default = mesh.http("GET", f"/api/jobs/{jid}/logs").json()
    assert default["next_offset"] <= 65536 and default["complete"] is False


def test_bad_log_requests(mesh):
    start(mesh)
    jid = mesh.submit("count")
    mesh.wait_job(jid)
    for q, name in [("offset=-1", "offset"), ("offset=x", "offset"), ("limit=0", "limit"),
                    ("limit=1048577", "limit"), ("follow=maybe", "follow"), ("tail=1", "tail")]:
        r = mesh.http("GET", f"/api/jobs/{jid}/logs?{q}", key="read")
        assert r.status_code == 422 and name in r.json()["error"]["message"], (q, r.text)
    r = mesh.http("GET", f"/api/jobs/{jid}/logs?follow=true", key="read",
                  headers={"Last-Event-ID": "abc"})
    assert r.status_code == 422 and "Last-Event-ID" in r.json()["error"]["message"]
    for bad in ("0123456789abcdef", "nope"):
        for q in ("", "?follow=true"):
            r = mesh.http("GET", f"/api/jobs/{bad}/logs{q}", key="read")
            assert r.status_code == 404 and r.json()["error"]["code"] == "not-found"
    assert mesh.http("GET", f"/api/jobs/{jid}/logs", key="submit:*").status_code == 403


def test_follow_delivers_lines_as_printed_and_ends(mesh):
    start(mesh)
    jid = mesh.submit("gated")
    resp, ev = follow(mesh, jid)
    try:
        seen = ev.until("log")
        assert seen[0][0] == "state" and seen[0][2]["state"] in ("queued", "running")
        assert seen[-1][2] == {"offset": 0, "data": "line 1\n"} and seen[-1][1] == "7"
        # line 2 is printed only once the gate opens: it must come over this stream
        open_gate(mesh, 1)
        name, eid, data = ev.until("log")[-1]
        assert data == {"offset": 7, "data": "line 2\n"} and eid == "14"
        open_gate(mesh, 2)
        assert ev.until("log")[-1][2] == {"offset": 14, "data": "line 3\n"}
        open_gate(mesh, 3)
        rest = ev.until("end")
        assert ("state", None, {"state": "succeeded"}) in rest
        end = rest[-1][2]
        assert end["id"] == jid and end["state"] == "succeeded" and "log" not in end
        assert ev.next() is None                      # the server closed the stream
    finally:
        resp.close()


def test_resume_with_last_event_id_has_no_duplicates(mesh):
    start(mesh)
    jid = mesh.submit("gated")
    resp, ev = follow(mesh, jid)
    got = [e for e in ev.until("log") if e[0] == "log"]
    resp.close()                                      # the client goes away
    open_gate(mesh, 1)
    open_gate(mesh, 2)
    resp, ev = follow(mesh, jid, last_id=got[-1][1])
    try:
        logs = []
        while not any(e[2]["data"].endswith("line 3\n") for e in logs):
            logs += [e for e in ev.until("log") if e[0] == "log"]
        open_gate(mesh, 3)
        logs += [e for e in ev.until("end") if e[0] == "log"]
        text = "".join(e[2]["data"] for e in got + logs)
        assert text == "line 1\nline 2\nline 3\n"
        assert logs[0][2]["offset"] == int(got[-1][1])
    finally:
        resp.close()
    # a finished job: the whole output, then end at once
    resp, ev = follow(mesh, jid, last_id=0)
    try:
        evs = ev.until("end")
        assert "".join(e[2]["data"] for e in evs if e[0] == "log") == "line 1\nline 2\nline 3\n"
    finally:
        resp.close()


def test_follow_is_bounded_by_http_follow_max(mesh):
    start(mesh, extra=["--http-follow-max=1s"])
    jid = mesh.submit("gated")
    resp, ev = follow(mesh, jid)
    try:
        names = []
        while True:
            e = ev.next()
            if e is None:
                break
            names.append(e[0])
        assert "log" in names and "end" not in names   # closed by the bound, job still running
    finally:
        resp.close()
    assert mesh.job(jid)["state"] == "running"
    assert mesh.http("GET", "/healthz", key=None).status_code == 200
