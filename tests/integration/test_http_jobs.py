"""GET /api/jobs: filters by state, role, worker and creation time narrow
real jobs (two roles on two workers, succeeded and failed, and queued ones
nobody serves); cursor pages cover every job exactly once, newest first,
while new jobs keep arriving; bad values are 422 naming the parameter."""
import datetime
import json
import time

ROLES = [
    {"name": "fail", "command": ["sh", "-c", "echo boom >&2; exit 3"], "max_attempts": 1},
    {"name": "lonely", "command": ["true"]},          # no worker serves it: stays queued
]


def ids(resp):
    assert resp.status_code == 200, resp.text
    return [j["id"] for j in resp.json()["jobs"]]


def walk(mesh, query, limit, between=None):
    """Every page of a listing; between(page_no) runs after each page."""
    out, cursor, pages = [], None, 0
    while True:
        q = f"{query}&limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        r = mesh.http("GET", "/api/jobs?" + q, key="read")
        assert r.status_code == 200, r.text
        body = r.json()
        assert len(body["jobs"]) <= limit and body["truncated"] is False
        out += [j["id"] for j in body["jobs"]]
        pages += 1
        if between:
            between(pages)
        cursor = body["next_cursor"]
        if cursor is None:
            return out, pages
        assert isinstance(cursor, str) and cursor


def started_mesh(mesh):
    mesh.start_coordinator(roles=ROLES)
    mesh.start_worker("w1", roles="echo", slots=4)
    mesh.start_worker("w2", roles="fail", slots=2)


def test_filters_narrow(mesh):
    started_mesh(mesh)
    ok = [mesh.submit("echo", {"i": i}) for i in range(4)]
    bad = [mesh.submit("fail") for _ in range(3)]
    mesh.wait_jobs(ok + bad)
    waiting = [mesh.submit("lonely") for _ in range(2)]
    everything = (ok + bad + waiting)[::-1]              # newest first

    assert ids(mesh.http("GET", "/api/jobs", key="read")) == everything
    assert ids(mesh.http("GET", "/api/jobs?state=succeeded")) == ok[::-1]
    assert ids(mesh.http("GET", "/api/jobs?state=failed")) == bad[::-1]
    assert ids(mesh.http("GET", "/api/jobs?state=queued")) == waiting[::-1]
    assert ids(mesh.http("GET", "/api/jobs?state=running")) == []
    assert ids(mesh.http("GET", "/api/jobs?role=fail")) == bad[::-1]
    assert ids(mesh.http("GET", "/api/jobs?role=lonely&state=queued")) == waiting[::-1]
    assert ids(mesh.http("GET", "/api/jobs?role=echo&state=failed")) == []
    assert ids(mesh.http("GET", "/api/jobs?worker=w1")) == ok[::-1]
    assert ids(mesh.http("GET", "/api/jobs?worker=w2&state=failed")) == bad[::-1]
    assert ids(mesh.http("GET", "/api/jobs?worker=w2&state=succeeded")) == []
    assert ids(mesh.http("GET", "/api/jobs?worker=nobody")) == []
    # the jobs are the same objects GET /api/jobs/{id} shows, without the log
    listed = mesh.http("GET", "/api/jobs?role=echo&limit=1").json()["jobs"][0]
    single = mesh.http("GET", f"/api/jobs/{listed['id']}").json()
    single.pop("log", None)
    assert listed == single and listed["payload"] == {"i": 3} and listed["worker"] == "w1"


def test_search_finds_text_in_id_role_worker_payload_and_error(mesh):
    started_mesh(mesh)
    ok = [mesh.submit("echo", {"customer": name}) for name in ("Acme Corp", "Globex", "acme-2")]
    bad = mesh.submit("fail", {"customer": "Initech"})
    mesh.wait_jobs(ok + [bad])
    waiting = mesh.submit("lonely", {"customer": "ACME queued"})

    def search(text, extra=""):
        from urllib.parse import quote
        return ids(mesh.http("GET", f"/api/jobs?q={quote(text)}{extra}", key="read"))

    assert search("acme") == [waiting, ok[2], ok[0]]            # payloads, any case
    assert search("acme", "&state=succeeded") == [ok[2], ok[0]]  # with the other filters
    assert search("Initech") == [bad]
    error = mesh.http("GET", f"/api/jobs/{bad}").json()["error"]
    assert error and search(error.upper()) == [bad]               # the error text
    assert search(ok[1]) == [ok[1]]                               # an id
    assert ok[1] in search(ok[1][:10])                            # an id prefix
    assert set(search("lonely")) == {waiting}                     # a role
    assert set(search("w2")) == {bad}                             # a worker
    assert search("nothing like this") == []
    # the store answers the same for finished jobs (newest-first pages, one at a time)
    out, pages = walk(mesh, "q=acme", 1)
    assert out == [waiting, ok[2], ok[0]] and pages == 3


def test_cursor_pages_cover_each_job_once(mesh):
    started_mesh(mesh)
    first = [jid for jid, err in mesh.client.submit_many([("echo", "{}", 0, {})] * 250)]
    mesh.wait_jobs(first)

    def more_jobs(page):        # new jobs arrive between the pages
        mesh.client.submit_many([("echo", "{}", 0, {})] * 7)
    got, pages = walk(mesh, "state=succeeded", 50, between=more_jobs)
    assert len(got) == len(set(got)) == 250 and pages in (5, 6)
    assert got == sorted(first, reverse=True)
    # unfiltered, through the whole store: each exactly once again, in order
    got, _ = walk(mesh, "role=echo", 50)
    assert len(got) == len(set(got)) and got == sorted(got, reverse=True)
    assert set(first) <= set(got)


def test_cursor_pages_of_queued_jobs(mesh):
    started_mesh(mesh)
    waiting = [jid for jid, err in mesh.client.submit_many([("lonely", "{}", 0, {})] * 120)]
    got, pages = walk(mesh, "state=queued", 50,
                      between=lambda p: mesh.submit("lonely"))
    assert got == sorted(waiting, reverse=True) and pages == 3


def rfc3339(ms):
    t = datetime.datetime.fromtimestamp(ms / 1000, tz=datetime.timezone.utc)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def test_since_and_until(mesh):
    started_mesh(mesh)
    early = [mesh.submit("echo") for _ in range(3)]
    time.sleep(0.02)              # only to give the batches different milliseconds
    late = [mesh.submit("echo") for _ in range(3)]
    mesh.wait_jobs(early + late)
    cut = mesh.job(late[0])["created_ms"]
    assert mesh.job(early[-1])["created_ms"] < cut
    for since in (str(cut), rfc3339(cut)):
        assert ids(mesh.http("GET", "/api/jobs?since=" + since)) == late[::-1]
        assert ids(mesh.http("GET", "/api/jobs?until=" + since)) == early[::-1]
    mid = mesh.job(late[1])["created_ms"]
    r = mesh.http("GET", f"/api/jobs?since={rfc3339(cut)}&until={mid + 1}")
    # ids carry milliseconds: late[2] may share late[1]'s and then belongs here too
    assert set(ids(r)) == {j for j in late if mesh.job(j)["created_ms"] <= mid}
    # an offset is honoured: the same instant written two hours east
    t = datetime.datetime.fromtimestamp(cut / 1000, tz=datetime.timezone(datetime.timedelta(hours=2)))
    text = t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{cut % 1000:03d}+02:00"
    assert ids(mesh.http("GET", "/api/jobs", params={"since": text})) == late[::-1]
    assert ids(mesh.http("GET", "/api/jobs?until=2000-01-01T00:00:00Z")) == []


def test_bad_values_are_422_naming_the_parameter(mesh):
    started_mesh(mesh)
    jid = mesh.submit("echo")
    mesh.wait_job(jid)
    cases = [
        ("state=bogus", "state"), ("state=", "state"), ("limit=0", "limit"),
        ("limit=1001", "limit"), ("limit=ten", "limit"), ("limit=-5", "limit"),
        ("since=yesterday", "since"), ("since=2026-13-01T00:00:00Z", "since"),
        ("until=2026-11-30T10:00:00", "until"), ("until=-1", "until"),
        ("since=2000&until=1000", "until"), ("cursor=nonsense", "cursor"),
        ("cursor=c" + "0" * 16, "cursor"), ("cursor=" + "x" * 500, "cursor"),
        ("statu=queued", "statu"), ("role=", "role"), ("q=", "q"),
    ]
    for query, name in cases:
        r = mesh.http("GET", "/api/jobs?" + query, key="read")
        assert r.status_code == 422, (query, r.text)
        err = r.json()["error"]
        assert err["code"] == "invalid" and name in err["message"], (query, err)
    assert mesh.http("GET", "/api/jobs", key="submit:echo").status_code == 403
    assert mesh.http("GET", "/api/jobs", key=None).status_code == 401
    assert ids(mesh.http("GET", "/api/jobs")) == [jid]
    assert mesh.coord.alive()


def test_a_search_of_queued_jobs_reads_a_bounded_number_per_page(mesh):
    """q over the jobs in memory reads at most 50,000 per page (the loop
    must not stall on a huge queue) and hands a cursor to go on."""
    mesh.start_coordinator(roles=ROLES)
    needles = [mesh.submit("lonely", {"find": "needle"}) for _ in range(3)]   # the oldest
    for start in range(0, 50_000, 5_000):
        got = mesh.client.submit_many([("lonely", '{"n":%d}' % i, 0, {})
                                       for i in range(start, start + 5_000)])
        assert all(jid for jid, _ in got)
    first = mesh.http("GET", "/api/jobs?state=queued&q=needle").json()
    assert first["truncated"] is True and first["jobs"] == [] and first["next_cursor"]
    second = mesh.http("GET", f"/api/jobs?state=queued&q=needle&cursor={first['next_cursor']}").json()
    assert [j["id"] for j in second["jobs"]] == needles[::-1]
    assert second["truncated"] is False and second["next_cursor"] is None
