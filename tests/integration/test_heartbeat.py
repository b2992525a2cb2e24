"""Heartbeats: a frozen worker is declared offline and its lease moves on;
when it thaws it registers again and its stale report changes nothing."""
import collections
import signal
import time

from conftest import Client, wait_for

SLEEP_MS = 4000


def test_slow_worker_heartbeat_causes_no_false_deaths(mesh):
    """A worker configured with a heartbeat far longer than the coordinator's
    liveness window stays connected: it pings at the shorter interval."""
    mesh.start_coordinator(heartbeat="200ms", liveness="3")
    w = mesh.start_worker("slow", heartbeat="2s", liveness="3")
    time.sleep(3.0)  # several coordinator windows (600 ms) with no job traffic
    assert mesh.worker_info("slow")["state"] == "online"
    log = w.log_text()
    assert "reconnecting" not in log and "duplicate-id" not in log, log[-2000:]
    jid = mesh.submit("echo", {"still": "here"})
    j = mesh.wait_job(jid, timeout=30)
    assert j["state"] == "succeeded" and j["attempts"] == 1, j


def test_stopped_worker_goes_offline_and_rejoins(mesh):
    mesh.start_coordinator()
    a = mesh.start_worker("a", slots=1)
    c = mesh.client
    waiter = mesh.new_client()                # gets the RESULT push(es) of the job
    try:
        jid = waiter.submit("sleep", {"ms": SLEEP_MS}, wait=True)
        wait_for(lambda: (lambda j: j["state"] == "running" and j["worker"] == "a")(c.job(jid)),
                 timeout=30, desc="job running on a")
        mesh.start_worker("b", slots=1)

        a.signal(signal.SIGSTOP)
        try:
            wa = mesh.wait_worker("a", "offline", timeout=30)
            assert wa["running"] == 0, wa
            j = wait_for(lambda: (lambda j: j if j["state"] == "running" and j["worker"] == "b"
                                  else None)(c.job(jid)), timeout=30,
                         desc="the job requeued and running on b")
            assert j["attempts"] == 2, j
            assert mesh.worker_info("b")["running"] == 1
        finally:
            a.signal(signal.SIGCONT)

        # a comes back by itself while b still runs attempt 2; a's attempt 1
        # finishes too and its report is stale
        mesh.wait_worker("a", "online", timeout=30)
        j = mesh.wait_job(jid, timeout=60)
        assert j["state"] == "succeeded", j
        assert j["attempts"] == 2 and j["worker"] == "b", j
        assert j["result"] == {"slept_ms": SLEEP_MS}, j
        # the job's outcome is b's full run, not a's early stale report
        assert j["finished_ms"] - j["started_ms"] >= SLEEP_MS, j

        # a's stale lease is gone and it takes new work
        wait_for(lambda: mesh.worker_info("a")["running"] == 0 and
                 mesh.worker_info("a")["state"] == "online", timeout=30,
                 desc="a online with nothing running")
        # one slot each: two sleep jobs can only run one on a, one on b
        pair = [c.submit("sleep", {"ms": 500}) for _ in range(2)]
        done = mesh.wait_jobs(pair, timeout=60)
        assert all(x["state"] == "succeeded" and x["attempts"] == 1 for x in done.values()), done
        assert {x["worker"] for x in done.values()} == {"a", "b"}, done

        # exactly one end: one RESULT push, and the job did not change after it
        time.sleep(0.5)
        pushes = collections.Counter(r["id"] for r in waiter.drain_results(timeout=1.0))
        assert pushes[jid] == 1, pushes
        again = c.job(jid)
        assert (again["state"], again["attempts"], again["finished_ms"]) == \
            (j["state"], j["attempts"], j["finished_ms"]), again
        assert a.alive()
    finally:
        waiter.close()


def test_attempts_exhausted_by_frozen_workers(mesh):
    """Each attempt's worker freezes: after max_attempts the job is dead."""
    mesh.start_coordinator(roles=[
        {"name": "slow", "command": ["/bin/sleep", "20"], "max_attempts": 2},
    ])
    c = mesh.client
    jid = c.submit("slow", {})
    frozen = []
    try:
        for attempt, name in ((1, "f1"), (2, "f2")):
            w = mesh.start_worker(name, roles="slow", slots=1)
            wait_for(lambda: (lambda j: j["state"] == "running" and j["attempts"] == attempt
                              and j["worker"] == name)(c.job(jid)),
                     timeout=30, desc=f"attempt {attempt} on {name}")
            w.signal(signal.SIGSTOP)
            frozen.append(w)
            mesh.wait_worker(name, "offline", timeout=30)
        j = mesh.wait_job(jid, timeout=30)
        assert j["state"] == "dead" and j["attempts"] == 2, j
    finally:
        for w in frozen:
            w.signal(signal.SIGCONT)
    # thawed, both rejoin; the dead job stays dead
    for name in ("f1", "f2"):
        mesh.wait_worker(name, "online", timeout=30)
    time.sleep(0.5)
    j = c.job(jid)
    assert j["state"] == "dead" and j["attempts"] == 2, j


def test_paused_coordinator_causes_no_lost_jobs(mesh):
    """Freeze the coordinator longer than the liveness window, then thaw it:
    workers come back online and every job still ends succeeded."""
    mesh.start_coordinator()
    mesh.start_worker("p1", slots=2)
    mesh.start_worker("p2", slots=2)
    c = mesh.client
    ids = [c.submit("sleep", {"ms": 3000}) for _ in range(4)]
    wait_for(lambda: all(c.job(i)["state"] == "running" for i in ids), timeout=30,
             desc="4 jobs running")
    mesh.coord.signal(signal.SIGSTOP)
    try:
        time.sleep(2.0)
    finally:
        mesh.coord.signal(signal.SIGCONT)
    done = mesh.wait_jobs(ids, timeout=60)
    assert all(j["state"] == "succeeded" for j in done.values()), done
    for name in ("p1", "p2"):
        mesh.wait_worker(name, "online", timeout=30)
    more = [c.submit("echo", {"i": i}) for i in range(6)]
    assert all(j["state"] == "succeeded" for j in mesh.wait_jobs(more, timeout=60).values())


def test_cancel_while_worker_frozen(mesh, tmp_path):
    """A cancel sent to a worker that then goes silent still ends the job
    cancelled (not requeued); the thawed worker does not revive it."""
    mesh.start_coordinator(roles=[
        {"name": "long", "command": ["/bin/sh", "-c", f"touch {tmp_path}/go-$1; exec sleep 60",
                                     "sh", "{{JOB_ID}}"]},
    ])
    w = mesh.start_worker("fz", roles="long", slots=1)
    mesh.start_worker("spare", roles="long", slots=1)
    c = mesh.client
    jid = c.submit("long", {})
    wait_for(lambda: (tmp_path / f"go-{jid}").exists(), timeout=30, desc="job started")
    holder = c.job(jid)["worker"]
    frozen = mesh.workers[holder]
    frozen.signal(signal.SIGSTOP)
    try:
        assert c.cancel(jid)["state"] in ("running", "cancelled")
        j = mesh.wait_job(jid, timeout=30)
        assert j["state"] == "cancelled" and j["attempts"] == 1, j
        mesh.wait_worker(holder, "offline", timeout=30)
    finally:
        frozen.signal(signal.SIGCONT)
    mesh.wait_worker(holder, "online", timeout=30)
    wait_for(lambda: mesh.worker_info(holder)["running"] == 0, timeout=30,
             desc="the thawed worker holds no lease")
    time.sleep(0.5)
    j = c.job(jid)
    assert j["state"] == "cancelled" and j["attempts"] == 1, j
    assert w.alive()


def test_duplicate_worker_id_is_refused_until_the_first_is_gone(mesh):
    mesh.start_coordinator()
    first = mesh.start_worker("twin", slots=1)
    second = mesh.start_worker("twin-2", slots=1, wait=False, extra=["--id=twin"])
    # the second keeps trying, the registration stays the first's
    time.sleep(1.5)
    ws = [w for w in mesh.client.workers() if w["id"] == "twin"]
    assert len(ws) == 1 and ws[0]["name"] == "twin" and ws[0]["state"] == "online", ws
    assert second.alive(), second.log_text()[-2000:]
    assert "duplicate" in second.log_text() or "already online" in second.log_text()
    # when the first dies, the second takes the id over
    first.signal(signal.SIGKILL)
    wait_for(lambda: (lambda w: w["state"] == "online" and w["name"] == "twin-2")(
        mesh.worker_info("twin")), timeout=60, desc="twin-2 registered as twin")
    j = mesh.wait_job(mesh.submit("echo", {"twin": 2}))
    assert j["state"] == "succeeded" and j["worker"] == "twin", j
