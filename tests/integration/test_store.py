"""The LMDB store: nothing acknowledged is lost when the coordinator dies.

SIGKILL in the middle of a stream of submissions, restart on the same data
dir, and every acknowledged job still ends; running leases survive the
restart when their worker comes back, and are requeued when it does not;
worker registrations and finished jobs outlive the process; a store written
by a newer schema is refused.
"""
import json
import signal
import subprocess
import time

import msgpack
import zmq

from conftest import TERMINAL, ProtoError, curve_setup, pack, unpack, wait_for


def stream_until_killed(mesh, total, kill_after):
    """Submit `total` sleep jobs in pipelined batches; SIGKILL the coordinator
    once `kill_after` have been acknowledged. Returns {n: job id} of the
    acknowledged ones."""
    ctx = zmq.Context()
    s = ctx.socket(zmq.DEALER)
    s.setsockopt(zmq.LINGER, 0)
    curve_setup(s, mesh.curve)
    s.connect(mesh.endpoint)
    acked, batches, sent, req = {}, {}, 0, 0
    killed = False
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            while sent < total and sent - len(acked) < 2000 and not killed:
                items = [["sleep", json.dumps({"ms": 5, "n": n}), 0, {}]
                         for n in range(sent, min(sent + 100, total))]
                req += 1
                batches[req] = list(range(sent, sent + len(items)))
                s.send(pack("SUBMIT", req, items, False))
                sent += len(items)
            if s.poll(200):
                m = unpack(s.recv())
                if m[2] == "SUBMITTED":
                    for n, (jid, err) in zip(batches.pop(m[3]), m[4]):
                        assert jid and not err, err
                        acked[n] = jid
            if not killed and len(acked) >= kill_after:
                mesh.coord.signal(signal.SIGKILL)
                mesh.coord.wait(15)
                killed = True
                # late answers may still sit in our socket: read what is there
                while s.poll(100):
                    m = unpack(s.recv())
                    if m[2] == "SUBMITTED":
                        for n, (jid, err) in zip(batches.pop(m[3]), m[4]):
                            acked[n] = jid
                return acked
        raise AssertionError(f"stream stalled: {len(acked)} of {total} acknowledged")
    finally:
        s.close(0)
        ctx.term()


def test_sigkill_during_stream_loses_no_acknowledged_job(mesh):
    mesh.start_coordinator()
    mesh.start_worker("a", roles="sleep", slots=32)
    mesh.start_worker("b", roles="sleep", slots=32)
    total = 10000
    acked = stream_until_killed(mesh, total, kill_after=4000)
    assert len(acked) >= 4000

    mesh.reset_client()
    mesh.start_coordinator()
    # the client resubmits what was never acknowledged, as a client would
    rest = [n for n in range(total) if n not in acked]
    for i in range(0, len(rest), 500):
        chunk = rest[i:i + 500]
        res = mesh.client.submit_many([("sleep", json.dumps({"ms": 5, "n": n}), 0, {})
                                       for n in chunk])
        for n, (jid, err) in zip(chunk, res):
            assert jid and not err, err
            acked[n] = jid
    assert len(acked) == total

    def all_done():
        pending = [jid for jid in acked.values()
                   if mesh.job(jid)["state"] not in TERMINAL]
        return not pending or None
    wait_for(all_done, timeout=120, interval=1.0, desc="every acknowledged job to end")
    for n, jid in acked.items():
        j = mesh.job(jid)
        assert j["state"] == "succeeded", j
        assert j["payload"] == {"ms": 5, "n": n}, j
        assert 1 <= j["attempts"] <= 2, j   # a lease lost with the old process counts once more


def test_running_lease_survives_restart_when_worker_returns(mesh):
    mesh.start_coordinator()
    mesh.start_worker("w", slots=2)
    jid = mesh.submit("sleep", {"ms": 3000})
    mesh.wait_job(jid, "running", timeout=30)
    mesh.coord.signal(signal.SIGKILL)
    mesh.coord.wait(15)
    mesh.reset_client()
    mesh.start_coordinator()
    assert mesh.job(jid)["state"] == "running"      # recovered as leased to w
    mesh.wait_worker("w", "online", timeout=60)
    j = mesh.wait_job(jid, timeout=60)
    assert j["state"] == "succeeded" and j["attempts"] == 1 and j["worker"] == "w", j


def test_lease_of_worker_that_never_returns_is_requeued(mesh):
    mesh.start_coordinator()
    gone = mesh.start_worker("gone", slots=1)
    jid = mesh.submit("sleep", {"ms": 20000})
    mesh.wait_job(jid, "running", timeout=30)
    gone.signal(signal.SIGKILL)
    mesh.coord.signal(signal.SIGKILL)
    gone.wait(15)
    mesh.coord.wait(15)
    mesh.reset_client()
    mesh.start_coordinator()
    # recovered as still leased to "gone", which never says HELLO again
    assert mesh.job(jid)["worker"] == "gone"
    mesh.start_worker("spare", slots=1)
    j = wait_for(lambda: (lambda j: j if j["worker"] == "spare" and j["state"] == "running"
                          else None)(mesh.job(jid)), timeout=60, desc="the lease to move to spare")
    assert j["attempts"] == 2, j
    mesh.client.cancel(jid)
    assert mesh.wait_job(jid, timeout=60)["state"] == "cancelled"


def test_registrations_and_history_outlive_the_process(mesh):
    mesh.start_coordinator(extra=["--keep-finished=5"])
    w = mesh.start_worker("keeper", slots=4, labels="region=eu")
    ids = [mesh.submit("echo", {"i": i}) for i in range(40)]
    mesh.wait_jobs(ids, timeout=60)
    oldest = ids[0]
    # evicted from memory (only 5 kept), still answered from the store
    assert mesh.job(oldest)["result"] == {"i": 0}
    w.signal(signal.SIGTERM)
    assert w.wait(30) == 0
    mesh.coord.signal(signal.SIGTERM)
    assert mesh.coord.wait(15) == 0
    mesh.reset_client()
    mesh.start_coordinator()
    info = mesh.worker_info("keeper")
    assert info and info["state"] == "offline" and info["labels"] == {"region": "eu"}, info
    listed = {j["id"]: j for j in mesh.client.jobs(limit=100)}
    assert set(ids) <= set(listed), "finished jobs missing after restart"
    assert all(listed[i]["state"] == "succeeded" for i in ids)
    r = mesh.cli("jobs", "--limit=3", "--json")
    assert r.rc == 0 and [j["id"] for j in r.json()] == ids[::-1][:3], r
    # finished states and roles are listed through the store's indexes
    r = mesh.cli("jobs", "--state=succeeded", "--job-role=echo", "--limit=3", "--json")
    assert r.rc == 0 and [j["id"] for j in r.json()] == ids[::-1][:3], r
    assert mesh.client.jobs(state="failed") == []
    assert mesh.client.jobs(role="nosuchrole") == []


def test_newer_schema_is_refused(mesh, tmp_path):
    mesh.start_coordinator()
    mesh.coord.signal(signal.SIGTERM)
    assert mesh.coord.wait(15) == 0
    data = tmp_path / "data"
    # rewrite meta/schema with LMDB's own tools: dump, edit, load
    dump = subprocess.run(["mdb_dump", "-s", "meta", str(data)], capture_output=True,
                          text=True, check=True).stdout
    lines = dump.splitlines()
    key = b"schema".hex()
    i = lines.index(" " + key)
    lines[i + 1] = " " + (99).to_bytes(4, "big").hex()
    subprocess.run(["mdb_load", "-s", "meta", str(data)], input="\n".join(lines) + "\n",
                   text=True, check=True)
    p = mesh.start_coordinator(wait=False)
    rc = p.wait(15)
    assert rc == 1, rc
    log = p.log_text()
    assert "99" in log and "newer" in log, log[-2000:]


def test_durability_none_still_recovers_a_clean_stop(mesh):
    mesh.start_coordinator(extra=["--durability=none"])
    mesh.start_worker("w", slots=2)
    jid = mesh.submit("echo", {"kept": True})
    mesh.wait_job(jid)
    mesh.coord.signal(signal.SIGTERM)
    assert mesh.coord.wait(15) == 0
    mesh.reset_client()
    mesh.start_coordinator(extra=["--durability=none"])
    assert mesh.job(jid)["result"] == {"kept": True}


def test_cancel_of_running_job_survives_restart(mesh):
    """A cancel acknowledged while the job's worker is unreachable still holds
    after the coordinator dies: the job ends cancelled, it is not run again."""
    mesh.start_coordinator()
    w = mesh.start_worker("w", slots=1)
    jid = mesh.submit("sleep", {"ms": 4000})
    mesh.wait_job(jid, "running", timeout=30)
    w.signal(signal.SIGKILL)
    w.wait(15)
    r = mesh.cli("cancel", jid)
    assert r.rc == 0 and "cancel requested" in r.out, r
    mesh.coord.signal(signal.SIGKILL)
    mesh.coord.wait(15)
    mesh.reset_client()
    mesh.start_coordinator()
    mesh.start_worker("spare", slots=1)
    j = mesh.wait_job(jid, timeout=60)
    assert j["state"] == "cancelled" and j["attempts"] == 1, j


def test_unfinished_jobs_listed_whatever_the_history(mesh):
    """jobs --state=queued finds a queued job however many finished jobs are
    newer than it (unfinished jobs are listed from memory)."""
    mesh.start_coordinator(extra=["--keep-finished=5"])
    stuck = mesh.submit("echo", {"stuck": True}, where={"zone": "nowhere"})
    mesh.start_worker("w", slots=4)
    ids = [mesh.submit("echo", {"i": i}) for i in range(60)]
    mesh.wait_jobs(ids, timeout=60)
    queued = mesh.client.jobs(state="queued")
    assert [j["id"] for j in queued] == [stuck], queued
    r = mesh.cli("jobs", "--state=queued", "--json")
    assert r.rc == 0 and [j["id"] for j in r.json()] == [stuck], r


LINES = ("for i in $(seq 1 40); do printf 'line %03d ........................................\\n' $i; "
         "sleep 0.06; done")


def test_job_output_is_stored_capped_and_outlives_the_process(mesh):
    mesh.start_coordinator(roles=[{"name": "chatty", "command": ["/bin/sh", "-c", LINES]}],
                           extra=["--job-log-max=1000", "--keep-finished=1"])
    mesh.start_worker("w", roles="chatty,echo", slots=1)
    jid = mesh.submit("chatty", {})
    assert mesh.wait_job(jid, timeout=60)["state"] == "succeeded"
    mesh.wait_jobs([mesh.submit("echo", {"i": i}) for i in range(3)])  # evict it from memory
    mesh.coord.signal(signal.SIGKILL)
    mesh.coord.wait(15)
    mesh.reset_client()
    mesh.start_coordinator(extra=["--job-log-max=1000"])
    r = mesh.cli("job", jid, "--json")
    assert r.rc == 0, r
    log = r.json()["log"]
    assert "line 040" in log and "line 001" not in log, log
    assert log.startswith("[popebot: ") and "earlier bytes of output not shown" in log, log
    assert len(log) <= 1000 + 80, len(log)


def test_retention_bounds_the_store_under_a_steady_stream(mesh, tmp_path):
    """With --retention-jobs, finished jobs beyond the bound are deleted, and
    under a steady stream the store file stops growing (LMDB reuses the
    pages the deletions free)."""
    mesh.start_coordinator(extra=["--retention-jobs=300", "--keep-finished=10"])
    mesh.start_worker("w", slots=16)
    data = tmp_path / "data" / "data.mdb"
    sizes, first = [], None
    for rnd in range(6):
        res = mesh.client.submit_many([("echo", json.dumps({"r": rnd, "i": i, "pad": "x" * 200}),
                                        0, {}) for i in range(600)])
        ids = [jid for jid, _ in res]
        first = first or ids[0]
        mesh.wait_jobs(ids[-50:], timeout=60)
        wait_for(lambda: len(mesh.client.jobs(limit=10000)) <= 300, timeout=30,
                 desc="retention to prune down to 300 finished jobs")
        sizes.append(data.stat().st_size)
    assert mesh.cli("job", first).rc == 4          # the oldest is gone, store and memory
    assert sizes[5] == sizes[3], sizes               # steady state: no growth


def test_full_store_refuses_new_jobs_and_keeps_running(mesh):
    """A store near the end of its map refuses submissions with a clear
    "store full" error instead of failing a commit; the coordinator stays
    up, and work already accepted still finishes."""
    mesh.start_coordinator(extra=["--store-map-size=2M", "--retention-jobs=1000000"])
    mesh.start_worker("w", slots=8)
    pad = "y" * 2000
    accepted, refusals = [], []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        res = mesh.client.submit_many([("echo", json.dumps({"i": len(accepted), "pad": pad}), 0, {})
                                       for _ in range(20)])
        accepted += [jid for jid, err in res if jid]
        refusals += [err for jid, err in res if err]
        if refusals:
            r = mesh.cli("submit", "echo", '--payload={"more":1}')
            if r.rc == 4 and "store full" in r.err:
                break                      # full for good: nothing is ever pruned here
        time.sleep(0.05)
    else:
        raise AssertionError(f"never refused for good; {len(accepted)} accepted, {refusals[:3]}")
    assert all(e.startswith("store full") for e in refusals), set(refusals)
    assert mesh.coord.alive(), mesh.coord.log_text()[-2000:]
    assert "MDB_MAP_FULL" not in mesh.coord.log_text()
    done = mesh.wait_jobs(accepted[-20:], timeout=60)
    assert all(j["state"] == "succeeded" for j in done.values()), done


def test_done_in_flight_when_coordinator_dies_is_not_lost(mesh, tmp_path):
    """A worker keeps a DONE until the PONG to its next PING says the
    coordinator made it durable; if the coordinator dies first, the worker
    reports the lease again and re-sends the DONE to the new one. With a
    single attempt allowed, losing that DONE would leave the job dead."""
    marker = tmp_path / "finished"
    # liveness 20: the worker waits 4 s of silence before it gives up on the
    # coordinator, so it sends the DONE into a connection it still trusts
    mesh.start_coordinator(roles=[{"name": "once", "max_attempts": 1,
                                   "command": ["/bin/sh", "-c", f"sleep 1; touch {marker}"]}],
                           liveness="20")
    mesh.start_worker("w", roles="once", slots=1)
    jid = mesh.submit("once", {})
    mesh.wait_job(jid, "running", timeout=30)
    mesh.coord.signal(signal.SIGSTOP)        # it will never read the DONE
    wait_for(marker.exists, timeout=30, desc="the job to finish on the worker")
    time.sleep(0.5)                          # the DONE leaves the worker
    mesh.coord.signal(signal.SIGKILL)
    mesh.coord.wait(15)
    mesh.reset_client()
    mesh.start_coordinator()
    j = mesh.wait_job(jid, timeout=60)
    assert j["state"] == "succeeded" and j["attempts"] == 1, j


def _ended_or_pruned(mesh, jid):
    try:
        return mesh.job(jid)["state"] in TERMINAL
    except ProtoError:
        return True                                  # already pruned: it ended


def test_retention_by_bytes(mesh, tmp_path):
    """With --retention-bytes the oldest finished jobs go while the store
    uses more than that, whatever their age and count: the file levels off."""
    mesh.start_coordinator(extra=["--retention-bytes=400K", "--keep-finished=10"])
    mesh.start_worker("w", slots=16)
    data = tmp_path / "data" / "data.mdb"
    sizes, first = [], None
    for rnd in range(6):
        res = mesh.client.submit_many([("echo", json.dumps({"r": rnd, "i": i, "pad": "z" * 1000}),
                                        0, {}) for i in range(300)])
        ids = [jid for jid, _ in res]
        first = first or ids[0]
        wait_for(lambda: _ended_or_pruned(mesh, ids[-1]), timeout=60, desc="the round to end")
        time.sleep(2.5)                              # two retention passes
        sizes.append(data.stat().st_size)
    assert mesh.cli("job", first).rc == 4            # pruned although young
    assert len(mesh.client.jobs(limit=10000)) < 1800
    assert sizes[5] <= sizes[3], sizes               # levelled off
