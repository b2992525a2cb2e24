"""A worker killed with SIGKILL: its leases go to another worker as attempt 2."""
import json
import signal
import subprocess

from conftest import BIN, clean_env, wait_for

SLEEP_MS = 5000


def test_sigkilled_worker_jobs_move_to_survivor(mesh):
    mesh.start_coordinator()
    a = mesh.start_worker("a", slots=6)
    c = mesh.client

    on_a = [c.submit("sleep", {"ms": SLEEP_MS}) for _ in range(6)]

    def all_running_on_a():
        js = [c.job(j) for j in on_a]
        return js if all(j["state"] == "running" and j["worker"] == "a" for j in js) else None
    wait_for(all_running_on_a, timeout=30, desc="6 sleep jobs running on worker a")

    mesh.start_worker("b", slots=8)
    # a is full, so these can only go to b
    on_b = [c.submit("sleep", {"ms": 500}) for _ in range(2)]

    still = [c.job(j) for j in on_a]
    assert all(j["state"] == "running" and j["attempts"] == 1 for j in still), still

    a.signal(signal.SIGKILL)
    assert a.wait(10) == -signal.SIGKILL

    mesh.wait_worker("a", "offline", timeout=30)
    final = mesh.wait_jobs(on_a + on_b, timeout=90)
    for jid in on_a:
        j = final[jid]
        assert j["state"] == "succeeded", j
        assert j["attempts"] == 2, j
        assert j["worker"] == "b", j
        assert j["result"] == {"slept_ms": SLEEP_MS}, j
        assert j["finished_ms"] >= j["started_ms"] + SLEEP_MS, j   # attempt 2 ran in full
    for jid in on_b:
        j = final[jid]
        assert j["state"] == "succeeded" and j["attempts"] == 1 and j["worker"] == "b", j

    wa = mesh.worker_info("a")
    assert wa["state"] == "offline" and wa["running"] == 0, wa
    wb = mesh.worker_info("b")
    assert wb["state"] == "online" and wb["running"] == 0, wb


def test_lease_dies_after_max_attempts(mesh):
    """A job whose workers keep dying ends `dead` once max_attempts are spent."""
    mesh.start_coordinator(roles=[
        {"name": "fragile", "command": ["/bin/sleep", "30"], "max_attempts": 2},
    ])
    c = mesh.client
    jid = c.submit("fragile", {})
    for attempt, name in ((1, "x1"), (2, "x2")):
        w = mesh.start_worker(name, roles="fragile", slots=1)
        wait_for(lambda: (lambda j: j["state"] == "running" and j["worker"] == name
                          and j["attempts"] == attempt)(c.job(jid)),
                 timeout=30, desc=f"attempt {attempt} running on {name}")
        w.signal(signal.SIGKILL)
        w.wait(10)
        mesh.wait_worker(name, "offline", timeout=30)
    j = mesh.wait_job(jid, timeout=30)
    assert j["state"] == "dead", j
    assert j["attempts"] == 2, j
    assert j["error"], j


def test_submit_wait_survives_requeue(mesh):
    """`submit --wait` follows its job through a lost worker to the end."""
    mesh.start_coordinator()
    a = mesh.start_worker("a", slots=1)
    c = mesh.client
    cli = subprocess.Popen([BIN, "submit", "sleep", '--payload={"ms": 2000}', "--wait", "--json",
                            f"--coordinator={mesh.endpoint}", "--timeout=30s"] + mesh.cli_flags(),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=clean_env())
    try:
        def running_on_a():
            js = c.jobs(role="sleep")
            return js[0] if js and js[0]["state"] == "running" and js[0]["worker"] == "a" else None
        j = wait_for(running_on_a, timeout=30, desc="the waited job running on a")
        a.signal(signal.SIGKILL)
        mesh.start_worker("b", slots=1)
        out, err = cli.communicate(timeout=90)
    finally:
        if cli.poll() is None:
            cli.kill()
            cli.wait()
    assert cli.returncode == 0, err
    job = json.loads(out)
    assert job["id"] == j["id"] and job["id"] in err.decode(), (job, err)
    assert job["state"] == "succeeded" and job["attempts"] == 2 and job["worker"] == "b", job
