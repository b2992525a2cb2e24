"""Which worker runs a job: by role, by --where labels, by priority, within
a role's max_concurrency."""
import json
import time

from conftest import wait_for


def test_role_routing(mesh):
    mesh.start_coordinator(roles=[
        {"name": "xonly", "command": ["/bin/sh", "-c", "printf x"]},
        {"name": "orphan", "command": ["/bin/true"]},
    ])
    mesh.start_worker("x", roles="echo,xonly", slots=2)
    mesh.start_worker("plain", roles="echo,sleep", slots=2)
    c = mesh.client
    xs = [c.submit("xonly", {"i": i}) for i in range(20)]
    echoes = [c.submit("echo", {"i": i}) for i in range(40)]
    sleeps = [c.submit("sleep", {"ms": 10}) for _ in range(5)]
    nobody = c.submit("orphan", {})
    done = mesh.wait_jobs(xs + echoes + sleeps, timeout=60)
    for jid in xs:
        assert done[jid]["state"] == "succeeded" and done[jid]["worker"] == "x", done[jid]
        assert done[jid]["result"] == "x", done[jid]
    for jid in sleeps:
        assert done[jid]["worker"] == "plain", done[jid]
    assert {done[j]["worker"] for j in echoes} <= {"x", "plain"}
    # no worker serves it: it waits, untouched
    j = c.job(nobody)
    assert j["state"] == "queued" and j["attempts"] == 0 and j["worker"] is None, j
    # the worker that serves it comes later and takes it
    mesh.start_worker("o", roles="orphan", slots=1)
    j = mesh.wait_job(nobody)
    assert j["state"] == "succeeded" and j["worker"] == "o", j


def test_where_labels_cannot_smuggle_a_second_label(mesh):
    """{"a": "1,b=2"} is refused, not confused with {"a": "1", "b": "2"}."""
    mesh.start_coordinator()
    c = mesh.client
    res = c.submit_many([("echo", "{}", 0, {"a": "1,b=2"}),
                         ("echo", "{}", 0, {"a=b": "1"}),
                         ("echo", "{}", 0, {"a": "1", "b": "2"})])
    assert res[0][0] is None and "," in res[0][1], res
    assert res[1][0] is None, res
    assert res[2][0] is not None and res[2][1] is None, res


def test_where_labels(mesh):
    mesh.start_coordinator()
    mesh.start_worker("eu", slots=2, labels="region=eu,tier=gold")
    mesh.start_worker("us", slots=2, labels="region=us")
    mesh.start_worker("bare", slots=2)
    c = mesh.client
    eu = [c.submit("echo", {"i": i}, where={"region": "eu"}) for i in range(15)]
    us = [c.submit("echo", {"i": i}, where={"region": "us"}) for i in range(15)]
    gold = [c.submit("echo", {"i": i}, where={"region": "eu", "tier": "gold"}) for i in range(5)]
    anywhere = [c.submit("echo", {"i": i}) for i in range(30)]
    nowhere = c.submit("echo", {"lost": True}, where={"region": "ap"})
    mixed = c.submit("echo", {"lost": True}, where={"region": "us", "tier": "gold"})
    done = mesh.wait_jobs(eu + us + gold + anywhere, timeout=60)
    assert all(done[j]["worker"] == "eu" for j in eu + gold), [done[j]["worker"] for j in eu]
    assert all(done[j]["worker"] == "us" for j in us), [done[j]["worker"] for j in us]
    assert all(done[j]["state"] == "succeeded" for j in done)
    assert all(done[j]["where"] == {"region": "eu"} for j in eu)
    # jobs without constraints may run anywhere, including on the bare worker
    assert "bare" in {done[j]["worker"] for j in anywhere}

    # labels no worker has: the job stays queued (checked again after a while)
    time.sleep(1.0)
    for jid in (nowhere, mixed):
        j = c.job(jid)
        assert j["state"] == "queued" and j["attempts"] == 0 and j["started_ms"] is None, j
    r = mesh.cli("submit", "echo", "--where=region=ap", "--payload=[1]")
    assert r.rc == 0, r
    assert c.job(r.out.strip())["where"] == {"region": "ap"}
    # a worker with the labels arrives and takes exactly those
    mesh.start_worker("ap", slots=2, labels="region=ap,zone=1")
    j = mesh.wait_job(nowhere)
    assert j["state"] == "succeeded" and j["worker"] == "ap", j
    assert mesh.wait_job(r.out.strip())["worker"] == "ap"
    assert c.job(mixed)["state"] == "queued"
    assert c.cancel(mixed)["state"] == "cancelled"


def test_priority_order(mesh):
    mesh.start_coordinator()
    mesh.start_worker("one", slots=1)
    c = mesh.client
    blocker = c.submit("sleep", {"ms": 3000})
    wait_for(lambda: c.job(blocker)["state"] == "running", timeout=30, desc="blocker running")

    # queued while the only slot is busy; low ones first, high ones last
    plan = [0, 0, 5, 0, 10, 5, -3, 10, 0, 10, 5, -3]
    items = [("sleep", json.dumps({"ms": 30}), p, {}) for p in plan]
    ids = [jid for jid, _ in c.submit_many(items)]
    # and a few more one by one through the CLI
    more = []
    for p in (7, -1, 7):
        r = mesh.cli("submit", "sleep", '--payload={"ms": 30}', f"--priority={p}")
        assert r.rc == 0, r
        more.append((r.out.strip(), p))
    assert c.job(blocker)["state"] == "running", "the queue was not built while the slot was busy"

    all_ids = list(zip(ids, plan)) + more
    done = mesh.wait_jobs([i for i, _ in all_ids] + [blocker], timeout=90)
    assert all(j["state"] == "succeeded" for j in done.values())
    by_start = sorted(all_ids, key=lambda t: (done[t[0]]["started_ms"], done[t[0]]["finished_ms"]))
    prios = [p for _, p in by_start]
    assert prios == sorted(prios, reverse=True), prios
    # equal priority: first come, first served
    for p in set(plan):
        same = [i for i, q in all_ids if q == p]
        assert [i for i, _ in by_start if i in same] == same, p
    # one slot: no two ran at once
    spans = sorted((done[i]["started_ms"], done[i]["finished_ms"]) for i, _ in all_ids)
    for (s1, f1), (s2, f2) in zip(spans, spans[1:]):
        assert f1 <= s2, spans
    assert done[blocker]["finished_ms"] <= spans[0][0]


def test_max_concurrency(mesh):
    mesh.start_coordinator(roles=[
        {"name": "limited", "command": ["/bin/sleep", "1"], "max_concurrency": 2},
    ])
    mesh.start_worker("m1", roles="echo,limited", slots=4)
    mesh.start_worker("m2", roles="echo,limited", slots=4)
    c = mesh.client
    ids = [c.submit("limited", {"i": i}) for i in range(8)]
    # echo jobs are not limited by it and run alongside
    echoes = [c.submit("echo", {"i": i}) for i in range(8)]

    samples = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        r = mesh.cli("jobs", "--state=running", "--job-role=limited", "--json")
        assert r.rc == 0, r
        running = r.json()
        assert all(j["role"] == "limited" and j["state"] == "running" for j in running), running
        samples.append(len(running))
        assert len(running) <= 2, running
        states = [j["state"] for j in c.jobs(role="limited")]
        if all(s == "succeeded" for s in states) and len(states) == 8:
            break
    done = mesh.wait_jobs(ids + echoes, timeout=30)
    assert all(j["state"] == "succeeded" for j in done.values()), done
    assert max(samples) >= 1, samples

    # from the recorded intervals: never more than 2 overlapping
    spans = [(done[i]["started_ms"], done[i]["finished_ms"]) for i in ids]
    for s, _ in spans:
        overlapping = sum(1 for s2, f2 in spans if s2 <= s < f2)
        assert overlapping <= 2, (s, spans)
    # both workers could take them, and the limit was actually used
    assert max(sum(1 for s2, f2 in spans if s2 <= s < f2) for s, _ in spans) == 2, spans
