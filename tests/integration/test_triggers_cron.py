"""Cron triggers on the real clock: schedules fire on the minute with the
trigger's payload and run on a real worker; after a kill, runs the stored
horizon says were missed are skipped or caught up once by each trigger's
"missed" policy, and a catch-up of a run already started finds its job
(idempotency key) instead of starting a twin; after a long outage (the
horizon set 100 days back with mdb_load) the count is capped and the
catch-up is the latest missed run.
The first test waits for one minute boundary (up to a minute)."""
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


def put_horizon(data_dir, ms):
    """Write meta "cron_horizon" (8 bytes big-endian) with lmdb-utils' mdb_load."""
    value = "".join(f"\\{b:02x}" for b in int(ms).to_bytes(8, "big"))
    p = subprocess.run(["mdb_load", "-T", "-s", "meta", str(data_dir)],
                       input=f"cron_horizon\n{value}\n", text=True, capture_output=True)
    assert p.returncode == 0, p.stderr


def test_cron_fires_on_the_minute_and_never_starts_a_run_twice(mesh):
    mesh.start_coordinator()
    mesh.start_worker("w1", roles="echo,tick,tock")
    for body in (cron_role("tick", "once", "America/New_York"), cron_role("tock", "skip", "UTC")):
        r = mesh.http("POST", "/api/roles", json_body=body)
        assert r.status_code == 201, r.text
    b = next_run(mesh, "tick")
    now = time.time() * 1000
    assert b % 60000 == 0 and 0 < b - now <= 60000 and next_run(mesh, "tock") == b

    # on the minute: both start, with the trigger's payload, and run
    wait_for(lambda: b in runs(mesh, "tick") and b in runs(mesh, "tock"), timeout=75,
             desc="the runs of the next minute")
    first = {}
    for name, tz in (("tick", "America/New_York"), ("tock", "UTC")):
        j = runs(mesh, name)[b]
        assert j["payload"] == {"from": name, "trigger": {
            "type": "cron", "schedule": "* * * * *", "timezone": tz, "scheduled_ms": b,
            "catch_up": False}}, j
        done = mesh.wait_job(j["id"])
        assert done["state"] == "succeeded", done
        st = mesh.http("GET", f"/api/roles/{name}").json()["trigger_status"][0]
        assert st["last_job"] == j["id"] and st["next_run_ms"] == b + 60000, st
        first[name] = j["id"]

    # killed, and its horizon put back before b (as if the commit of the
    # horizon had been lost): at start tick catches up the run at b, which
    # its idempotency key finds already started -- no twin (runs() checks)
    if b + 60000 - time.time() * 1000 < 8000:        # not across the next boundary
        sleep_until(b + 61500)
        b += 60000
        first = {n: runs(mesh, n)[b]["id"] for n in ("tick", "tock")}
    mesh.coord.signal(signal.SIGKILL)
    mesh.coord.wait(15)
    mesh.reset_client()
    put_horizon(mesh.tmp / "data", b - 1)
    mesh.start_coordinator()
    log = wait_for(lambda: "catch-up" in mesh.coord.log_text() and mesh.coord.log_text(),
                   timeout=10, desc="the start's missed-run lines")
    assert "role tick, trigger 0 (cron '* * * * *' America/New_York): 1 run(s) missed" in log, log
    assert "role tock, trigger 0 (cron '* * * * *' UTC): 1 run(s) missed" in log
    assert "skipped (missed: skip)" in log
    st = wait_for(lambda: mesh.http("GET", "/api/roles/tick").json()["trigger_status"][0]
                  if mesh.http("GET", "/api/roles/tick").json()["trigger_status"][0]["last_job"]
                  else None, timeout=10, desc="tick's catch-up")
    assert st["last_job"] == first["tick"], (st, first)      # the run at b, found again
    assert runs(mesh, "tick")[b]["id"] == first["tick"]
    assert next_run(mesh, "tick") == b + 60000 == next_run(mesh, "tock")


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
