"""Role triggers over the HTTP API: strict validation (422 naming the
trigger and field, nothing changed), defaults and status written back, and
file watches on real directories with inotify: changes debounced into one
job whose payload names the changed paths, a file path seen through its
directory (also when replaced by rename), a watched directory that goes
away and comes back, a missing path reported, a disabled role not fired."""
import json
import os
import shutil
import time
from pathlib import Path

import pytest
import yaml

from conftest import wait_for

PRINT = "printf '%s' \"$POPEBOT_JOB_PAYLOAD\""


def role(name, triggers, **kw):
    return dict({"name": name, "command": PRINT, "shell": True, "triggers": triggers}, **kw)


def jobs_of(mesh, name):
    r = mesh.http("GET", f"/api/jobs?role={name}&limit=100", key="read")
    assert r.status_code == 200, r.text
    return r.json()["jobs"]


def payload(job):
    p = job["payload"]
    return json.loads(p) if isinstance(p, str) else p


def status(mesh, name):
    r = mesh.http("GET", f"/api/roles/{name}", key="read")
    assert r.status_code == 200, r.text
    return r.json()["trigger_status"]


@pytest.mark.parametrize("trigger, field, words", [
    ({"type": "cron", "schedule": "61 * * * *"}, "triggers[0].schedule", "minute"),
    ({"type": "cron", "schedule": "* * * *"}, "triggers[0].schedule", "field"),
    ({"type": "cron", "schedule": "0 9 * * *", "timezone": "Mars/Olympus"},
     "triggers[0].timezone", "Mars/Olympus"),
    ({"type": "cron", "schedule": "0 9 * * *", "timezone": "../../etc/passwd"},
     "triggers[0].timezone", ""),
    ({"type": "cron", "schedule": "0 9 * * *", "missed": "all"}, "triggers[0].missed", "once"),
    ({"type": "cron", "schedule": "0 9 * * *", "paths": ["/tmp"]}, "triggers[0].paths", "cron"),
    ({"type": "cron"}, "triggers[0].schedule", "missing"),
    ({"type": "watch", "paths": ["relative/dir"]}, "triggers[0].paths", "absolute"),
    ({"type": "watch", "paths": ["/srv/../etc"]}, "triggers[0].paths", "absolute"),
    ({"type": "watch", "paths": []}, "triggers[0].paths", "absolute"),
    ({"type": "watch", "paths": [f"/p{i}" for i in range(17)]}, "triggers[0].paths", "1-16"),
    ({"type": "watch", "paths": ["/tmp"], "debounce_ms": -1}, "triggers[0].debounce_ms", "3600000"),
    ({"type": "watch", "paths": ["/tmp"], "payload": [1]}, "triggers[0].payload", "object"),
    ({"type": "webhook"}, "triggers[0].type", "cron"),
    ("every minute", "triggers[0].type", "object"),
])
def test_bad_triggers_are_refused_naming_the_field(mesh, trigger, field, words):
    mesh.start_coordinator()
    r = mesh.http("POST", "/api/roles", json_body=role("bad", [trigger]))
    assert r.status_code == 422, r.text
    msg = r.json()["error"]["message"]
    assert field in msg and words in msg, msg
    assert mesh.http("GET", "/api/roles/bad").status_code == 404


def test_defaults_status_limits_and_read_only_fields(mesh):
    mesh.start_coordinator()
    many = [{"type": "cron", "schedule": "0 0 1 1 *"}] * 17
    r = mesh.http("POST", "/api/roles", json_body=role("many", many))
    assert r.status_code == 422 and "at most 16" in r.json()["error"]["message"], r.text
    r = mesh.http("POST", "/api/roles", json_body=role("nightly", [
        {"type": "cron", "schedule": "0 3 * * *"},
        {"type": "watch", "paths": ["/tmp/"]}]))
    assert r.status_code == 201, r.text
    made = r.json()
    assert made["triggers"] == [
        {"type": "cron", "schedule": "0 3 * * *", "timezone": "UTC", "missed": "skip",
         "payload": {}},
        {"type": "watch", "paths": ["/tmp"], "debounce_ms": 1000, "payload": {}}]
    st = made["trigger_status"]
    now_ms = time.time() * 1000
    nxt = st[0]["next_run_ms"]
    assert nxt % 86400000 == 3 * 3600000 and 0 < nxt - now_ms <= 86400000, st
    assert st[0]["last_run_ms"] is None and st[0]["error"] is None
    assert st[1]["watching"] is True and st[1]["next_run_ms"] is None, st
    row = next(x for x in mesh.cli("roles").out.splitlines() if x.startswith("nightly "))
    assert "1 cron, 1 watch" in row, row
    # what docs/openapi.yaml promises (the file must parse as YAML, too)
    spec = yaml.safe_load((Path(__file__).parents[2] / "docs" / "openapi.yaml").read_text())
    schemas = spec["components"]["schemas"]
    required = set(schemas["Role"]["allOf"][1]["required"])
    assert required <= set(made), required - set(made)
    for kind, t in (("CronTrigger", made["triggers"][0]), ("WatchTrigger", made["triggers"][1])):
        assert set(t) == set(schemas[kind]["properties"]), (kind, t)
    for one in st:
        assert set(one) == set(schemas["TriggerStatus"]["required"]), one
    # the status is shown, never taken
    r = mesh.http("PATCH", "/api/roles/nightly", json_body={"trigger_status": []})
    assert r.status_code == 422 and "read-only" in r.json()["error"]["message"], r.text
    # PATCH replaces the whole array; a disabled role's triggers are not armed
    r = mesh.http("PATCH", "/api/roles/nightly", json_body={"enabled": False})
    assert r.status_code == 200 and len(r.json()["triggers"]) == 2, r.text
    assert [s["error"] for s in r.json()["trigger_status"]] == ["the role is disabled"] * 2
    r = mesh.http("PATCH", "/api/roles/nightly", json_body={"triggers": [], "enabled": True})
    assert r.status_code == 200 and r.json()["triggers"] == [] and r.json()["trigger_status"] == []
    # a roles file may hold triggers too, with the same rules
    mesh.coord.signal(15)
    mesh.coord.wait(15)
    mesh.start_coordinator(roles=[role("fromfile", [{"type": "cron", "schedule": "@hourly",
                                                     "timezone": "Asia/Kathmandu"}])])
    got = mesh.http("GET", "/api/roles/fromfile").json()
    assert got["triggers"][0]["timezone"] == "Asia/Kathmandu"
    # Kathmandu is UTC+05:45: the top of its hour is at minute 15 UTC
    assert got["trigger_status"][0]["next_run_ms"] % 3600000 == 15 * 60000, got


def test_a_watch_debounces_changes_into_one_job_with_their_paths(mesh, tmp_path):
    mesh.start_coordinator()
    mesh.start_worker("w1", roles="echo,onchange")
    inbox, etc = tmp_path / "inbox", tmp_path / "etc"
    inbox.mkdir()
    etc.mkdir()
    conf = etc / "app.conf"                       # does not exist yet
    r = mesh.http("POST", "/api/roles", json_body=role("onchange", [
        {"type": "watch", "paths": [str(inbox), str(conf)], "debounce_ms": 400,
         "payload": {"prompt": "new files", "trigger": "overwritten"}}]))
    assert r.status_code == 201, r.text
    wait_for(lambda: status(mesh, "onchange")[0]["watching"], desc="the watch to be set")

    for i in range(3):                            # a burst: one job
        (inbox / f"f{i}.txt").write_text("x" * i)
        time.sleep(0.1)
    (etc / "other.conf").write_text("not watched")
    jobs = wait_for(lambda: jobs_of(mesh, "onchange") or None, timeout=20, desc="a job")
    time.sleep(1.0)                               # no second job for the same burst
    jobs = jobs_of(mesh, "onchange")
    assert len(jobs) == 1, jobs
    p = payload(jobs[0])
    assert p["prompt"] == "new files"
    assert p["trigger"] == {"type": "watch", "truncated": False,
                            "paths": sorted(str(inbox / f"f{i}.txt") for i in range(3))}, p
    done = mesh.wait_job(jobs[0]["id"])
    assert done["state"] == "succeeded", done
    st = status(mesh, "onchange")[0]
    assert st["last_job"] == jobs[0]["id"] and st["last_run_ms"] > 0, st

    # a file path: created by rename, as deploy tools write it
    tmp = etc / ".app.conf.tmp"
    tmp.write_text("v=1")
    os.replace(tmp, conf)
    second = wait_for(lambda: [j for j in jobs_of(mesh, "onchange") if j["id"] != jobs[0]["id"]]
                      or None, timeout=20, desc="a second job")
    assert len(second) == 1 and payload(second[0])["trigger"]["paths"] == [str(conf)], second

    # a sub-directory's own changes are not watched (only its creation is)
    sub = inbox / "sub"
    sub.mkdir()
    third = wait_for(lambda: [j for j in jobs_of(mesh, "onchange")
                              if j["id"] not in (jobs[0]["id"], second[0]["id"])] or None,
                     timeout=20, desc="a job for the new directory")
    assert payload(third[0])["trigger"]["paths"] == [str(sub)], third
    (sub / "deep.txt").write_text("deep")
    time.sleep(1.5)
    assert len(jobs_of(mesh, "onchange")) == 3


def test_a_watched_directory_that_goes_away_is_reported_and_set_again(mesh, tmp_path):
    mesh.start_coordinator()
    d = tmp_path / "drop"
    d.mkdir()
    missing = tmp_path / "no" / "such" / "dir"
    r = mesh.http("POST", "/api/roles", json_body=role("drops", [
        {"type": "watch", "paths": [str(d)], "debounce_ms": 200},
        {"type": "watch", "paths": [str(missing)]}]))
    assert r.status_code == 201, r.text
    st = r.json()["trigger_status"]
    assert st[0]["watching"] is True and st[0]["error"] is None, st
    assert st[1]["watching"] is False and "No such file or directory" in st[1]["error"], st
    assert "retrying" in st[1]["error"]

    os.rmdir(d)
    err = wait_for(lambda: status(mesh, "drops")[0]["error"], timeout=10,
                   desc="the lost directory to be reported")
    assert str(d) in err and not status(mesh, "drops")[0]["watching"], err
    wait_for(lambda: jobs_of(mesh, "drops"), timeout=5, desc="a job for the loss")
    n = len(jobs_of(mesh, "drops"))               # its loss is a change too
    assert n == 1 and payload(jobs_of(mesh, "drops")[0])["trigger"]["paths"] == [str(d)]
    d.mkdir()
    wait_for(lambda: status(mesh, "drops")[0]["watching"], timeout=25,
             desc="the directory to be watched again")
    (d / "back.txt").write_text("again")
    wait_for(lambda: len(jobs_of(mesh, "drops")) == 2, timeout=10, desc="a job after it came back")
    time.sleep(0.5)
    assert len(jobs_of(mesh, "drops")) == 2
    assert payload(jobs_of(mesh, "drops")[0])["trigger"]["paths"] == [str(d / "back.txt")]


def test_a_disabled_roles_watch_starts_nothing(mesh, tmp_path):
    mesh.start_coordinator()
    d = tmp_path / "quiet"
    d.mkdir()
    r = mesh.http("POST", "/api/roles", json_body=role("quiet", [
        {"type": "watch", "paths": [str(d)], "debounce_ms": 200}], enabled=False))
    assert r.status_code == 201, r.text
    (d / "a").write_text("a")
    time.sleep(1.0)
    assert jobs_of(mesh, "quiet") == []
    r = mesh.http("PATCH", "/api/roles/quiet", json_body={"enabled": True})
    assert r.json()["trigger_status"][0]["watching"] is True, r.text
    (d / "b").write_text("b")
    wait_for(lambda: len(jobs_of(mesh, "quiet")) == 1, timeout=10, desc="a job once enabled")
    time.sleep(0.5)
    assert len(jobs_of(mesh, "quiet")) == 1
    # deleting the role removes its watch (no worker runs it: cancel its job first)
    assert mesh.http("POST", f"/api/jobs/{jobs_of(mesh, 'quiet')[0]['id']}/cancel").status_code == 200
    assert mesh.http("DELETE", "/api/roles/quiet").status_code == 204
    (d / "c").write_text("c")
    time.sleep(1.0)
    assert len(jobs_of(mesh, "quiet")) == 1


def test_a_directory_that_appears_later_is_watched_as_one(mesh, tmp_path):
    mesh.start_coordinator()
    base = tmp_path / "w"
    base.mkdir()
    inbox = base / "inbox"                        # not there yet
    r = mesh.http("POST", "/api/roles", json_body=role("later", [
        {"type": "watch", "paths": [str(inbox)], "debounce_ms": 200}]))
    assert r.status_code == 201 and r.json()["trigger_status"][0]["watching"], r.text
    inbox.mkdir()
    wait_for(lambda: len(jobs_of(mesh, "later")) == 1, timeout=10, desc="a job for its creation")
    assert payload(jobs_of(mesh, "later")[0])["trigger"]["paths"] == [str(inbox)]
    time.sleep(0.5)
    (inbox / "a").write_text("a")                 # now its files count
    wait_for(lambda: len(jobs_of(mesh, "later")) >= 2, timeout=10, desc="a job for a file in it")
    time.sleep(0.5)
    assert len(jobs_of(mesh, "later")) == 2, [payload(j) for j in jobs_of(mesh, "later")]
    assert payload(jobs_of(mesh, "later")[0])["trigger"]["paths"] == [str(inbox / "a")]


def test_an_edit_keeps_an_unchanged_watchs_pending_changes(mesh, tmp_path):
    mesh.start_coordinator()
    d = tmp_path / "slow"
    d.mkdir()
    r = mesh.http("POST", "/api/roles", json_body=role("slow", [
        {"type": "watch", "paths": [str(d)], "debounce_ms": 3000}]))
    assert r.status_code == 201, r.text
    (d / "a").write_text("a")
    time.sleep(0.5)                               # inside the debounce window: edit the role
    r = mesh.http("PATCH", "/api/roles/slow", json_body={"max_attempts": 5})
    assert r.status_code == 200, r.text
    wait_for(lambda: len(jobs_of(mesh, "slow")) == 1, timeout=10,
             desc="the pending change's job after the edit")
    assert payload(jobs_of(mesh, "slow")[0])["trigger"]["paths"] == [str(d / "a")]
    st = status(mesh, "slow")[0]
    assert st["last_job"] == jobs_of(mesh, "slow")[0]["id"], st


def test_a_zone_gone_from_the_host_idles_its_schedule_not_the_coordinator(mesh, tmp_path):
    zones = tmp_path / "zoneinfo"
    (zones / "Europe").mkdir(parents=True)
    shutil.copy("/usr/share/zoneinfo/Europe/Berlin", zones / "Europe" / "Berlin")
    mesh.start_coordinator(env={"TZDIR": str(zones)})
    d = tmp_path / "still"
    d.mkdir()
    r = mesh.http("POST", "/api/roles", json_body=role("berlin", [
        {"type": "cron", "schedule": "0 9 * * *", "timezone": "Europe/Berlin"},
        {"type": "watch", "paths": [str(d)], "debounce_ms": 100}]))
    assert r.status_code == 201 and r.json()["trigger_status"][0]["next_run_ms"], r.text
    mesh.coord.signal(15)
    assert mesh.coord.wait(15) == 0
    (zones / "Europe" / "Berlin").unlink()        # tzdata changed while it was down
    mesh.start_coordinator(env={"TZDIR": str(zones)})
    got = mesh.http("GET", "/api/roles/berlin").json()
    assert got["triggers"][0]["timezone"] == "Europe/Berlin"      # kept as written
    st = got["trigger_status"]
    assert st[0]["next_run_ms"] is None and "cannot be read" in st[0]["error"], st
    assert st[1]["watching"] is True, st                           # the rest works
    (d / "x").write_text("x")
    wait_for(lambda: len(jobs_of(mesh, "berlin")) == 1, timeout=10, desc="the watch's job")
    # other fields of the role may still change; a patch naming the triggers
    # is checked whole
    r = mesh.http("PATCH", "/api/roles/berlin", json_body={"max_attempts": 5})
    assert r.status_code == 200 and r.json()["triggers"][0]["timezone"] == "Europe/Berlin", r.text
    assert "cannot be read" in r.json()["trigger_status"][0]["error"]
    r = mesh.http("PATCH", "/api/roles/berlin", json_body={"triggers": got["triggers"]})
    assert r.status_code == 422 and "triggers[0].timezone" in r.json()["error"]["message"], r.text
    # a new role with that zone is refused as before
    r = mesh.http("POST", "/api/roles", json_body=role("berlin2", [
        {"type": "cron", "schedule": "0 9 * * *", "timezone": "Europe/Berlin"}]))
    assert r.status_code == 422 and "triggers[0].timezone" in r.json()["error"]["message"], r.text
