"""Cron triggers on the real clock: schedules fire on the minute with the
trigger's payload and run on a real worker; runs that fell due while the
coordinator was down (killed) are skipped or caught up once by each
trigger's "missed" policy; a restart never starts a run twice; after a
long outage (the stored horizon set 100 days back with mdb_load) the count
is capped and the catch-up is the latest missed run.
The first test waits for two minute boundaries (about 1-2 minutes)."""
import signal
import subprocess
import time

from conftest import wait_for

PRINT = "printf '%s' \"$POPEBOT_JOB_PAYLOAD\""


def cron_role(name, missed, tz):
    return {"name": name, "command": PRINT, "shell": True, "triggers": [
        {"type": "cron", "schedule": "* * * * *", "timezone": tz, "missed": missed,
         "payload": {"from": name}}]}


def runs(mesh, name):
    """{scheduled_ms: job} of the role's jobs."""
    r = mesh.http("GET", f"/api/jobs?role={name}&limit=100", key="read")
    assert r.status_code == 200, r.text
    out = {}
    for j in r.json()["jobs"]:
        t = j["payload"]["trigger"]
        assert t["scheduled_ms"] not in out, f"run {t['scheduled_ms']} started twice"
        out[t["scheduled_ms"]] = j
    return out


def next_run(mesh, name):
    return mesh.http("GET", f"/api/roles/{name}").json()["trigger_status"][0]["next_run_ms"]


def sleep_until(ms):
    while time.time() * 1000 < ms:
        time.sleep(min(1.0, max(0.01, ms / 1000 - time.time())))


def test_cron_fires_on_the_minute_and_follows_the_missed_run_policy(mesh):
    mesh.start_coordinator()
    mesh.start_worker("w1", roles="echo,tick,tock")
    for body in (cron_role("tick", "once", "America/New_York"), cron_role("tock", "skip", "UTC")):
        r = mesh.http("POST", "/api/roles", json_body=body)
        assert r.status_code == 201, r.text
    b = next_run(mesh, "tick")
    now = time.time() * 1000
    assert b % 60000 == 0 and 0 < b - now <= 60000 and next_run(mesh, "tock") == b
    if b - now < 5000:                     # too close to stop before it: let it fire first
        wait_for(lambda: b in runs(mesh, "tick") and b in runs(mesh, "tock"), timeout=30,
                 desc="the first runs")
        b += 60000

    # killed before the run at b, started again after it
    mesh.coord.signal(signal.SIGKILL)
    mesh.coord.wait(15)
    mesh.reset_client()
    sleep_until(b + 1500)
    mesh.start_coordinator()
    tick = wait_for(lambda: runs(mesh, "tick").get(b), timeout=15, desc="tick's catch-up run")
    assert tick["payload"] == {"from": "tick", "trigger": {
        "type": "cron", "schedule": "* * * * *", "timezone": "America/New_York",
        "scheduled_ms": b, "catch_up": True}}, tick
    assert mesh.wait_job(tick["id"])["state"] == "succeeded"
    time.sleep(1.0)
    assert b not in runs(mesh, "tock")      # missed: skip
    log = mesh.coord.log_text()
    assert "role tock, trigger 0" in log and "skipped (missed: skip)" in log, log[-3000:]
    assert "role tick, trigger 0" in log and "starting one catch-up run" in log
    assert next_run(mesh, "tick") == b + 60000 == next_run(mesh, "tock")

    # the next minute: both fire on time, not as catch-ups, and run
    wait_for(lambda: b + 60000 in runs(mesh, "tick") and b + 60000 in runs(mesh, "tock"),
             timeout=75, desc="the runs of the next minute")
    for name in ("tick", "tock"):
        j = runs(mesh, name)[b + 60000]
        assert j["payload"]["trigger"]["catch_up"] is False, j
        done = mesh.wait_job(j["id"])
        assert done["state"] == "succeeded", done
        st = mesh.http("GET", f"/api/roles/{name}").json()["trigger_status"][0]
        assert st["last_job"] == j["id"] and st["next_run_ms"] == b + 120000, st

    # a restart starts no run again: runs() refuses twins, and nothing due
    # before the restart is started after it (not restarted across a minute
    # boundary, where tick would rightly catch up)
    if b + 120000 - time.time() * 1000 < 5000:
        sleep_until(b + 121500)
    before = {n: set(runs(mesh, n)) for n in ("tick", "tock")}
    mesh.coord.signal(signal.SIGTERM)
    assert mesh.coord.wait(15) == 0
    mesh.reset_client()
    restarted = time.time() * 1000
    mesh.start_coordinator()
    time.sleep(1.5)
    for n in ("tick", "tock"):
        new = set(runs(mesh, n)) - before[n]
        assert all(t > restarted for t in new), (n, new, restarted)


def put_horizon(data_dir, ms):
    """Write meta "cron_horizon" (8 bytes big-endian) with lmdb-utils' mdb_load."""
    value = "".join(f"\\{b:02x}" for b in int(ms).to_bytes(8, "big"))
    p = subprocess.run(["mdb_load", "-T", "-s", "meta", str(data_dir)],
                       input=f"cron_horizon\n{value}\n", text=True, capture_output=True)
    assert p.returncode == 0, p.stderr


def test_a_long_outage_counts_its_missed_runs_and_catches_up_the_latest(mesh):
    mesh.start_coordinator()
    for body in (cron_role("often", "once", "UTC"), cron_role("skipper", "skip", "UTC")):
        r = mesh.http("POST", "/api/roles", json_body=body)
        assert r.status_code == 201, r.text
    mesh.coord.signal(signal.SIGTERM)
    assert mesh.coord.wait(15) == 0
    mesh.reset_client()
    now = time.time() * 1000
    put_horizon(mesh.tmp / "data", now - 100 * 86400000)     # "down" for 100 days
    restarted = time.time() * 1000
    mesh.start_coordinator()
    job = wait_for(lambda: next((j for j in runs(mesh, "often").values()
                                 if j["payload"]["trigger"]["catch_up"]), None), timeout=15,
                   desc="often's catch-up run")
    t = job["payload"]["trigger"]
    latest = (time.time() * 1000) // 60000 * 60000             # the last minute boundary
    assert t["catch_up"] is True and latest - 60000 <= t["scheduled_ms"] <= latest, (t, latest)
    log = mesh.coord.log_text()
    assert "role often, trigger 0 (cron '* * * * *' UTC): 100000 or more run(s) missed" in log
    assert "role skipper, trigger 0" in log and "skipped (missed: skip)" in log
    time.sleep(0.5)                  # runs due after the restart are regular ones
    assert all(t > restarted for t in runs(mesh, "skipper"))
    assert len([t for t in runs(mesh, "often") if t <= restarted]) == 1
