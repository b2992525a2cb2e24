"""Failed attempts are retried with backoff while the role allows; a job out
of attempts is dead; a dead (or failed, timed out, cancelled) job can be
retried by hand with a fresh allotment of attempts."""
import signal

# Fails until the file named by $1 has been counted to $2; counts every run.
FLAKY = 'n=$(cat "$1" 2>/dev/null || echo 0); n=$((n+1)); echo $n > "$1"; [ -e "$1.ok" ] || [ $n -ge "$2" ]'


def roles(tmp):
    return [
        {"name": "flaky", "max_attempts": 3, "backoff_base_ms": 100, "backoff_max_ms": 400,
         "command": ["/bin/sh", "-c", FLAKY, "sh", str(tmp / "flaky-{{JOB_ID}}"), "3"]},
        {"name": "doomed", "max_attempts": 2, "backoff_base_ms": 50,
         "command": ["/bin/sh", "-c", FLAKY, "sh", str(tmp / "doomed-{{JOB_ID}}"), "99"]},
    ]


def test_retries_until_success(mesh, tmp_path):
    mesh.start_coordinator(roles=roles(tmp_path))
    mesh.start_worker("w", roles="flaky,doomed", slots=2)
    jid = mesh.submit("flaky", {})
    j = mesh.wait_job(jid, timeout=60)
    assert j["state"] == "succeeded" and j["attempts"] == 3, j
    assert (tmp_path / f"flaky-{jid}").read_text().strip() == "3"
    assert j["run_at_ms"] and j["started_ms"] >= j["run_at_ms"], j   # it waited its backoff


def test_out_of_attempts_is_dead_then_retry_by_hand(mesh, tmp_path):
    mesh.start_coordinator(roles=roles(tmp_path), extra=["--keep-finished=1"])
    mesh.start_worker("w", roles="flaky,doomed,echo", slots=2)
    jid = mesh.submit("doomed", {})
    j = mesh.wait_job(jid, timeout=60)
    assert j["state"] == "dead" and j["attempts"] == 2 and j["exit_code"] == 1, j
    assert "attempt 2 of 2" in j["error"] and "attempts spent" in j["error"], j
    # push it out of the memory cache: the retry must find it in the store
    mesh.wait_jobs([mesh.submit("echo", {"i": i}) for i in range(5)], timeout=60)
    (tmp_path / f"doomed-{jid}.ok").write_text("")
    r = mesh.cli("retry", jid)
    assert r.rc == 0 and "queued again" in r.out, r
    j = mesh.wait_job(jid, timeout=60)
    assert j["state"] == "succeeded" and j["attempts"] == 3 and j["error"] is None, j


def test_retry_refusals(mesh, tmp_path):
    mesh.start_coordinator(roles=roles(tmp_path))
    mesh.start_worker("w", roles="echo", slots=1)
    ok = mesh.submit("echo", {"fine": 1})
    mesh.wait_job(ok)
    r = mesh.cli("retry", ok)
    assert r.rc == 4 and "succeeded" in r.err, r
    r = mesh.cli("retry", "0123456789abcdef")
    assert r.rc == 4 and "no job" in r.err, r


def test_cancelled_job_can_be_retried(mesh, tmp_path):
    mesh.start_coordinator(roles=roles(tmp_path))
    ((jid, _),) = mesh.client.submit_many([("echo", '{"later":1}', 0, {}, 60000, None)])
    mesh.client.cancel(jid)
    assert mesh.job(jid)["state"] == "cancelled"
    mesh.start_worker("w", roles="echo", slots=1)
    assert mesh.cli("retry", jid).rc == 0
    j = mesh.wait_job(jid, timeout=30)
    assert j["state"] == "succeeded" and j["result"] == {"later": 1}, j


def test_retry_state_survives_restart(mesh, tmp_path):
    """A job waiting out its backoff is scheduled in the store: after a
    SIGKILL it still gets its remaining attempts."""
    r = roles(tmp_path)
    r[0]["backoff_base_ms"] = 1500
    mesh.start_coordinator(roles=r)
    mesh.start_worker("w", roles="flaky", slots=1)
    jid = mesh.submit("flaky", {})
    mesh.wait_job(jid, "scheduled", timeout=30)
    mesh.coord.signal(signal.SIGKILL)
    mesh.coord.wait(15)
    mesh.reset_client()
    mesh.start_coordinator()
    j = mesh.wait_job(jid, timeout=60)
    assert j["state"] == "succeeded" and j["attempts"] == 3, j
