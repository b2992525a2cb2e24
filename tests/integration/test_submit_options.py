"""Submit options kept by the store: delayed jobs (--delay) and idempotency
keys (--idempotency-key), including across a coordinator SIGKILL."""
import json
import signal

from conftest import wait_for


def test_delayed_job_waits_scheduled_then_runs(mesh):
    mesh.start_coordinator()
    mesh.start_worker("w", slots=2)
    r = mesh.cli("submit", "echo", '--payload={"late":1}', "--delay=1500ms")
    assert r.rc == 0, r
    jid = r.out.strip()
    j = mesh.job(jid)
    assert j["state"] == "scheduled", j
    assert j["run_at_ms"] == j["created_ms"] + 1500, j
    now = mesh.job(mesh.submit("echo", {"now": 1}))   # not held up by the delayed one
    done = mesh.wait_job(jid, timeout=30)
    assert done["state"] == "succeeded" and done["result"] == {"late": 1}, done
    assert done["started_ms"] >= done["run_at_ms"], done
    assert mesh.wait_job(now["id"])["state"] == "succeeded"


def test_cancel_scheduled_job(mesh):
    mesh.start_coordinator()
    mesh.start_worker("w", slots=1)
    ((jid, err),) = mesh.client.submit_many([("echo", "{}", 0, {}, 60000, None)])
    assert jid and not err, err
    assert mesh.job(jid)["state"] == "scheduled"
    r = mesh.cli("cancel", jid)
    assert r.rc == 0 and "cancelled" in r.out, r
    assert mesh.job(jid)["state"] == "cancelled"


def test_delayed_job_survives_sigkill(mesh):
    mesh.start_coordinator()
    mesh.start_worker("w", slots=1)
    ((jid, err),) = mesh.client.submit_many([("echo", '{"kept":true}', 0, {}, 2500, None)])
    assert jid and not err, err
    mesh.coord.signal(signal.SIGKILL)
    mesh.coord.wait(15)
    mesh.reset_client()
    mesh.start_coordinator()
    j = mesh.job(jid)
    assert j["state"] in ("scheduled", "queued", "running", "succeeded"), j
    done = mesh.wait_job(jid, timeout=60)
    assert done["state"] == "succeeded" and done["result"] == {"kept": True}, done
    assert done["started_ms"] >= done["run_at_ms"], done


def test_idempotency_key_returns_the_first_job(mesh):
    mesh.start_coordinator()
    mesh.start_worker("w", slots=2)
    first = mesh.cli("submit", "echo", '--payload={"n":1}', "--idempotency-key=order-17")
    again = mesh.cli("submit", "echo", '--payload={"n":2}', "--idempotency-key=order-17")
    other = mesh.cli("submit", "echo", '--payload={"n":3}', "--idempotency-key=order-18")
    assert first.rc == again.rc == other.rc == 0, (first, again, other)
    assert first.out == again.out and first.out != other.out, (first, again, other)
    jid = first.out.strip()
    assert mesh.wait_job(jid)["result"] == {"n": 1}
    # same key in one batch: one job
    res = mesh.client.submit_many([("echo", "{}", 0, {}, 0, "batch-key"),
                                   ("echo", "{}", 0, {}, 0, "batch-key")])
    assert res[0][0] and res[0][0] == res[1][0], res
    # --wait on a key whose job already ended answers with its result at once
    r = mesh.cli("submit", "echo", '--payload={"n":9}', "--idempotency-key=order-17", "--wait")
    assert r.rc == 0 and json.loads(r.out) == {"n": 1}, r
    # and the key outlives the process
    mesh.coord.signal(signal.SIGKILL)
    mesh.coord.wait(15)
    mesh.reset_client()
    mesh.start_coordinator()
    after = mesh.cli("submit", "echo", '--payload={"n":4}', "--idempotency-key=order-17")
    assert after.rc == 0 and after.out == first.out, after
    jobs = [j for j in mesh.client.jobs(limit=1000) if j["role"] == "echo"]
    assert len(jobs) == 3, [j["payload"] for j in jobs]   # order-17, order-18, batch-key


def test_idempotent_wait_gets_the_result_after_a_restart(mesh):
    """SUBMIT with wait and a known key answers with the first job's RESULT,
    even when that job is only in the store any more."""
    mesh.start_coordinator()
    mesh.start_worker("w", slots=1)
    ((jid, _),) = mesh.client.submit_many([("echo", '{"n":1}', 0, {}, 0, "k-restart")], wait=True)
    mesh.wait_job(jid)
    mesh.coord.signal(signal.SIGKILL)
    mesh.coord.wait(15)
    mesh.reset_client()
    mesh.start_coordinator()
    ((again, err),) = mesh.client.submit_many([("echo", '{"n":2}', 0, {}, 0, "k-restart")],
                                              wait=True)
    assert again == jid and err is None, (again, err)
    results = wait_for(lambda: [r for r in mesh.client.drain_results(0.2) if r["id"] == jid],
                       timeout=10, desc="the first job's RESULT")
    assert results[0]["result"] == {"n": 1} and results[0]["state"] == "succeeded", results
