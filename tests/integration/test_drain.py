"""SIGTERM drains a worker: running jobs finish, no new job is taken, exit 0."""
import signal

from conftest import RawPeer, done_items, enroll, hello, pack, wait_for


def slow_role(tmp_path, ms):
    """A command that shows it really started (a marker file) and then sleeps."""
    return {"name": "slow", "command": ["/bin/sh", "-c", f"touch {tmp_path}/started-$1; "
                                        f"sleep {ms / 1000}; printf done", "sh", "{{JOB_ID}}"]}


def wait_started(tmp_path, jid):
    """Leased is not started: the worker may get the ASSIGN after its SIGTERM
    (and then rightly rejects it). Wait until the job's process runs."""
    wait_for(lambda: (tmp_path / f"started-{jid}").exists(), timeout=30,
             desc=f"job {jid} to start")


def test_sigterm_drains_then_exits_0(mesh, tmp_path):
    mesh.start_coordinator(roles=[slow_role(tmp_path, 3000)])
    a = mesh.start_worker("a", roles="echo,slow", slots=3)
    c = mesh.client

    long_job = c.submit("slow", {})
    wait_started(tmp_path, long_job)
    assert c.job(long_job)["worker"] == "a"

    a.signal(signal.SIGTERM)
    seen = wait_for(lambda: (lambda w: w if w["state"] == "draining" else None)(
        mesh.worker_info("a")), timeout=30, interval=0.02, desc="worker a to show draining")
    assert seen["running"] == 1, seen
    # a has free slots but drains: it takes none of these. (The race where a
    # lease reaches it before the coordinator hears DRAIN is tested on both
    # sides below, with a fake worker and with a fake coordinator.)
    late = [c.submit("echo", {"late": i}) for i in range(3)]

    j = mesh.wait_job(long_job, timeout=60)
    assert j["state"] == "succeeded" and j["attempts"] == 1 and j["worker"] == "a", j
    assert j["result"] == "done", j

    assert a.wait(30) == 0
    mesh.wait_worker("a", "offline", timeout=30)

    # nobody else serves echo: the late jobs are still queued, never started
    for jid in late:
        lj = c.job(jid)
        assert lj["state"] == "queued" and lj["attempts"] == 0, lj
        assert lj["started_ms"] is None and lj["result"] is None, lj

    mesh.start_worker("b", slots=2)
    done = mesh.wait_jobs(late, timeout=60)
    for jid in late:
        assert done[jid]["state"] == "succeeded", done[jid]
        assert done[jid]["worker"] == "b" and done[jid]["attempts"] == 1, done[jid]
    assert "a" not in {w["name"] for w in c.workers() if w["state"] != "offline"}


def test_jobs_after_sigterm_go_to_other_worker(mesh, tmp_path):
    mesh.start_coordinator(roles=[slow_role(tmp_path, 2000)])
    a = mesh.start_worker("a", roles="echo,slow", slots=4)
    c = mesh.client
    long_job = c.submit("slow", {})
    wait_started(tmp_path, long_job)
    mesh.start_worker("b", roles="echo,slow", slots=4)
    a.signal(signal.SIGTERM)
    mesh.wait_worker("a", "draining", timeout=30)
    late = [c.submit("echo", {"i": i}) for i in range(8)]
    done = mesh.wait_jobs(late, timeout=60)
    assert all(j["state"] == "succeeded" and j["worker"] == "b" for j in done.values()), done
    assert mesh.wait_job(long_job)["state"] == "succeeded"
    assert a.wait(30) == 0


def test_drain_timeout_gives_jobs_back(mesh, tmp_path):
    """A job that outlives --drain-timeout is killed and requeued, not lost."""
    mesh.start_coordinator(roles=[slow_role(tmp_path, 4000)])
    a = mesh.start_worker("a", roles="slow", slots=1, extra=["--drain-timeout=1s"])
    c = mesh.client
    jid = c.submit("slow", {})
    wait_started(tmp_path, jid)
    a.signal(signal.SIGTERM)
    a.wait(30)                                   # it gives up on the job and exits
    j = mesh.wait_job(jid, "queued", timeout=30)
    assert j["attempts"] == 1, j
    mesh.start_worker("b", roles="slow", slots=1)
    j = mesh.wait_job(jid, timeout=60)
    assert j["state"] == "succeeded" and j["attempts"] == 2 and j["worker"] == "b", j
    assert j["result"] == "done", j


def test_rejected_lease_leaves_no_trace(mesh):
    """A draining worker gives back a lease it got before the coordinator knew:
    the job is queued again as if it had never been handed out."""
    mesh.start_coordinator()
    keys, answer = enroll(mesh.join_token(), "worker", "shy")    # a worker key of its own
    assert answer and answer[2] == "ENROLLED", answer
    fake = RawPeer(mesh.endpoint, curve=keys)
    try:
        fake.send(pack(*hello(worker_id="shy", roles=["echo"], slots=1, heartbeat_ms=200,
                              liveness=25)))
        assert fake.recv_cmd("WELCOME") is not None
        c = mesh.client
        jid = c.submit("echo", {"x": 1})
        m = fake.recv_cmd("ASSIGN")
        assert m is not None, "no ASSIGN for the fake worker"
        (lease,) = m[3]
        assert lease[0] == jid and lease[1] == 1 and lease[2] == "echo", lease
        assert c.job(jid)["state"] == "running"
        # as a real worker does: DRAIN at the signal, then the late lease back
        fake.send(pack("DRAIN"))
        fake.send(pack("DONE", [[jid, 1, "rejected", None, None, "worker is draining"]]))
        j = wait_for(lambda: (lambda j: j if j["state"] == "queued" else None)(c.job(jid)),
                     timeout=30, desc="the rejected job queued again")
        assert j["attempts"] == 0, j
        assert j["started_ms"] is None and j["worker"] is None, j
        assert mesh.worker_info("shy")["state"] == "draining"
        assert fake.recv_cmd("ASSIGN", timeout=0.5) is None, "a draining worker got a lease"
        # a real worker takes it as attempt 1
        mesh.start_worker("real", slots=1)
        j = mesh.wait_job(jid)
        assert j["state"] == "succeeded" and j["attempts"] == 1 and j["worker"] == "real", j
        fake.send(pack("BYE"))
    finally:
        fake.close()


def test_draining_worker_rejects_new_leases(mesh, tmp_path):
    """Seen from the coordinator's seat: after SIGTERM the worker says DRAIN,
    gives back any lease it is sent, finishes the one it runs, says BYE."""
    mesh.insecure = True       # the fake coordinator is a plaintext ROUTER
    fake = mesh.start_fake_coordinator()
    w = mesh.start_worker("fw", roles="echo,sleep,slow", slots=2, wait=False)
    h = fake.expect("HELLO")
    assert h[3:8] == ["fw", "fw", ["echo", "sleep", "slow"], 2, {}], h
    assert h[9:13] == [200, 5, [], False], h

    marker = tmp_path / "fw-started"
    run = ["00000000000000a1", 1, "slow", "{}",
           ["/bin/sh", "-c", f"touch {marker}; sleep 1.5; printf finished"], False, {}, 0]
    fake.send("ASSIGN", [run])
    wait_for(marker.exists, timeout=30, desc="the assigned command to start")

    w.signal(signal.SIGTERM)
    fake.expect("DRAIN")
    late = ["00000000000000a2", 1, "echo", '{"late": true}', [], False, {}, 0]
    fake.send("ASSIGN", [late])
    m = fake.expect("DONE", where=lambda m: "00000000000000a2" in done_items(m))
    item = done_items(m)["00000000000000a2"]
    assert item[1] == 1 and item[2] == "rejected", item

    m = fake.expect("DONE", where=lambda m: "00000000000000a1" in done_items(m))
    item = done_items(m)["00000000000000a1"]
    assert item[1:5] == [1, "succeeded", 0, '"finished"'], item
    fake.expect("BYE")
    assert w.wait(30) == 0
