"""Workers find a restarted coordinator by themselves and take new jobs.

(What the store keeps over a restart is tested in test_store.py.)
"""
import signal

import pytest

from conftest import free_port


def run_echo(mesh, payload):
    jid = mesh.submit("echo", payload)
    j = mesh.wait_job(jid, timeout=60)
    assert j["state"] == "succeeded" and j["result"] == payload, j
    return j


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM])
def test_worker_rejoins_restarted_coordinator(mesh, how):
    c1 = mesh.start_coordinator()
    w = mesh.start_worker("w", slots=2)
    mesh.start_worker("v", slots=2)
    before = run_echo(mesh, {"before": 1})
    assert before["worker"] in ("w", "v")

    c1.signal(how)
    rc = c1.wait(15)
    assert rc == (0 if how == signal.SIGTERM else -signal.SIGKILL), rc
    mesh.reset_client()

    mesh.start_coordinator()                    # same port, same store
    assert [j["id"] for j in mesh.client.jobs()] == [before["id"]]
    mesh.wait_worker("w", "online", timeout=60)
    mesh.wait_worker("v", "online", timeout=60)
    assert w.alive()

    ids = [mesh.submit("echo", {"after": i}) for i in range(10)]
    done = mesh.wait_jobs(ids, timeout=60)
    assert all(j["state"] == "succeeded" and j["attempts"] == 1 for j in done.values()), done
    assert {j["worker"] for j in done.values()} <= {"w", "v"}
    sid = mesh.submit("sleep", {"ms": 100})
    j = mesh.wait_job(sid, timeout=60)
    assert j["state"] == "succeeded" and j["result"] == {"slept_ms": 100}, j

    # the new coordinator also stops cleanly, and a worker that lost it keeps trying
    mesh.coord.signal(signal.SIGTERM)
    assert mesh.coord.wait(15) == 0


def test_worker_started_before_coordinator(mesh):
    """A worker whose coordinator is not up yet keeps retrying until it is."""
    mesh.port = free_port()
    mesh.start_worker("early", wait=False)
    mesh.start_coordinator()
    mesh.wait_worker("early", "online", timeout=60)
    run_echo(mesh, {"late": True})
