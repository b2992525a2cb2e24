"""The command line: help, version, flag errors, POPEBOT_* variables, exit codes.

Exit codes (node/cli.h): 0 ok; 1 the job did not succeed (submit --wait);
2 usage or bad input; 3 no coordinator answered within --timeout; 4 refused.
"""
import json
import re

import pytest

from conftest import clean_env, free_port, run_cli


def first_line(text):
    return text.strip().splitlines()[0] if text.strip() else ""


def test_help_and_version():
    r = run_cli(["--help"])
    assert r.rc == 0, r
    assert "usage" in r.out.lower() and "--role=coordinator" in r.out, r
    for mode in (["--role=worker", "--help"], ["--role=coordinator", "--help"], ["submit", "--help"]):
        r = run_cli(mode)
        assert r.rc == 0, (mode, r)
        assert "usage" in r.out.lower(), (mode, r)
    assert "--slots" in run_cli(["--role=worker", "--help"]).out
    r = run_cli(["--version"])
    assert r.rc == 0, r
    assert re.search(r"popebot-node \d+\.\d+\.\d+", r.out), r


@pytest.mark.parametrize("args, flag", [
    (["--role=worker", "--bogus-flag=1"], "--bogus-flag"),
    (["--role=coordinator", "--slots=2"], "--slots"),          # a worker flag
    (["jobs", "--no-such-thing"], "--no-such-thing"),
    (["submit", "echo", "--limit=3"], "--limit"),              # a jobs flag
])
def test_unknown_flag_is_usage_error(args, flag):
    r = run_cli(args)
    assert r.rc == 2, r
    line = first_line(r.err)
    assert line.startswith("popebot-node:"), r
    assert flag in line, r
    assert "usage" in r.err.lower(), r
    assert r.out == "", r


@pytest.mark.parametrize("args, flag", [
    (["--role=worker", "--slots=abc"], "--slots"),
    (["--role=worker", "--slots=0"], "--slots"),
    (["--role=worker", "--heartbeat=fast"], "--heartbeat"),
    (["--role=coordinator", "--liveness=-1"], "--liveness"),
    (["jobs", "--timeout=10parsecs"], "--timeout"),
    (["submit", "echo", "--priority=high"], "--priority"),
    (["--role=janitor"], "--role"),
    (["--role=worker", "--labels=novalue"], "--labels"),
    (["--role=worker", "--roles="], "--roles"),
    (["--role=coordinator", "--max-message=0"], "--max-message"),
    (["--role=coordinator", "--durability=eventually"], "--durability"),
])
def test_bad_value_is_usage_error(args, flag):
    r = run_cli(args)
    assert r.rc == 2, r
    assert flag in first_line(r.err), r


@pytest.mark.parametrize("content, needle", [
    ("{not json", "roles.json"),
    ('{"roles": [{"name": "x"}]}', "command"),
    ('{"roles": [{"name": "x", "command": ["true"], "colour": "red"}]}', "colour"),
    ('{"roles": [{"name": "echo", "command": ["true"]}]}', "echo"),
    ('{"roles": [{"name": "bad name", "command": ["true"]}]}', "name"),
    ('{"roles": [{"name": "x", "command": ["true"], "max_attempts": 0}]}', "max_attempts"),
])
def test_bad_roles_file_stops_coordinator(tmp_path, content, needle):
    f = tmp_path / "roles.json"
    f.write_text(content)
    r = run_cli(["--role=coordinator", f"--bind=tcp://127.0.0.1:{free_port()}",
                 f"--data-dir={tmp_path / 'data'}", f"--roles-file={f}"], timeout=30)
    assert r.rc not in (0, None), r
    assert needle in r.err, r


def test_port_in_use_stops_coordinator(mesh):
    mesh.start_coordinator()
    r = run_cli(["--role=coordinator", f"--bind={mesh.endpoint}",
                 f"--data-dir={mesh.tmp / 'data2'}"], timeout=30)
    assert r.rc == 1, r
    assert "bind" in r.err and str(mesh.port) in r.err, r
    assert mesh.coord.alive()


def test_missing_positional_is_usage_error():
    for args in (["submit"], ["job"], ["cancel"]):
        r = run_cli(args + ["--timeout=1s", "--coordinator=tcp://127.0.0.1:1", "--insecure"])
        assert r.rc == 2, (args, r)
    r = run_cli(["frobnicate"])
    assert r.rc == 2, r
    assert "frobnicate" in first_line(r.err), r


def test_env_var_sets_flag():
    # A bad value coming from the environment is reported with the variable's name.
    r = run_cli(["--role=worker"], env=clean_env(POPEBOT_SLOTS="abc"))
    assert r.rc == 2, r
    assert "POPEBOT_SLOTS" in r.err and "--slots" in r.err, r
    r = run_cli(["jobs"], env=clean_env(POPEBOT_TIMEOUT="soon"))
    assert r.rc == 2, r
    assert "POPEBOT_TIMEOUT" in r.err, r


def test_no_coordinator_exits_3():
    ep = f"tcp://127.0.0.1:{free_port()}"      # nobody listens there
    # --insecure: no CURVE identity is needed to find out that nobody answers
    for args in (["jobs"], ["workers", "--json"], ["submit", "echo"], ["job", "0123456789abcdef"]):
        r = run_cli(args + ["--timeout=1s", f"--coordinator={ep}", "--insecure"], timeout=60)
        assert r.rc == 3, (args, r)
        assert r.elapsed < 15, (args, r.elapsed)
        assert "coordinator" in r.err, (args, r)
        assert r.out == "", (args, r)


def test_no_coordinator_timeout_from_env():
    # POPEBOT_TIMEOUT and POPEBOT_COORDINATOR stand in for the flags; the default
    # timeout is 10 s, so returning well before 15 s shows the 1 s came from the env.
    ep = f"tcp://127.0.0.1:{free_port()}"
    r = run_cli(["workers"], env=clean_env(POPEBOT_TIMEOUT="1s", POPEBOT_COORDINATOR=ep,
                                           POPEBOT_INSECURE="true"))
    assert r.rc == 3, r
    assert ep in r.err, r
    # The command line wins over the environment.
    r = run_cli(["workers", "--timeout=1s"], env=clean_env(POPEBOT_TIMEOUT="1h",
                                                           POPEBOT_COORDINATOR=ep,
                                                           POPEBOT_INSECURE="1"))
    assert r.rc == 3, r
    assert r.elapsed < 15, r.elapsed


@pytest.fixture
def live(mesh):
    mesh.start_coordinator(roles=[
        {"name": "fail", "max_attempts": 1, "command": ["/bin/sh", "-c", "echo broken >&2; exit 3"]},
    ])
    mesh.start_worker("w1", roles="echo,sleep,fail", slots=2)
    return mesh


def test_env_coordinator_reaches_live_mesh(live):
    r = run_cli(["workers", "--json"], env=clean_env(POPEBOT_COORDINATOR=live.endpoint,
                                                     POPEBOT_TIMEOUT="5s",
                                                     POPEBOT_DATA_DIR=live.tmp / "data"))
    assert r.rc == 0, r
    names = [w["name"] for w in json.loads(r.out)]
    assert names == ["w1"], r


def test_submit_prints_id_and_job_shows_it(live):
    r = live.cli("submit", "echo", '--payload={"hello": "world", "n": [1, 2]}')
    assert r.rc == 0, r
    jid = r.out.strip()
    assert re.fullmatch(r"[0-9a-f]{16}", jid), r
    j = live.wait_job(jid)
    assert j["state"] == "succeeded", j
    r = live.cli("job", jid, "--json")
    assert r.rc == 0, r
    job = r.json()
    for key in ("id", "role", "state", "attempts", "max_attempts", "priority", "worker",
                "exit_code", "result", "error", "payload", "where", "created_ms",
                "started_ms", "finished_ms", "log"):
        assert key in job, (key, job)
    assert job["id"] == jid and job["role"] == "echo" and job["worker"] == "w1", job
    assert job["result"] == {"hello": "world", "n": [1, 2]}, job
    assert job["payload"] == job["result"], job
    assert job["attempts"] == 1 and job["state"] == "succeeded", job
    assert job["created_ms"] <= job["started_ms"] <= job["finished_ms"], job
    r = live.cli("job", jid)                      # text form
    assert r.rc == 0 and jid in r.out and "succeeded" in r.out, r


def test_submit_payload_from_file(live, tmp_path):
    f = tmp_path / "p.json"
    f.write_text('{"from": "file", "list": [true, null, 1.5]}\n')
    r = live.cli("submit", "echo", f"--payload=@{f}", "--wait")
    assert r.rc == 0, r
    assert json.loads(r.out) == {"from": "file", "list": [True, None, 1.5]}, r
    r = live.cli("submit", "echo", f"--payload=@{tmp_path / 'missing.json'}")
    assert r.rc == 2, r


def test_submit_wait(live):
    r = live.cli("submit", "echo", '--payload={"x": 42}', "--wait")
    assert r.rc == 0, r
    assert json.loads(r.out) == {"x": 42}, r
    assert re.search(r"\b[0-9a-f]{16}\b", r.err), r    # the id goes to stderr
    r = live.cli("submit", "sleep", '--payload={"ms": 50}', "--wait", "--json")
    assert r.rc == 0, r
    job = r.json()
    assert job["state"] == "succeeded" and job["result"] == {"slept_ms": 50}, job


def test_submit_wait_outlasts_a_short_timeout(live):
    """--timeout bounds silence from the coordinator, not the job's run time."""
    r = live.cli("submit", "sleep", '--payload={"ms": 2500}', "--wait", "--timeout=500ms")
    assert r.rc == 0, r
    assert json.loads(r.out) == {"slept_ms": 2500}, r


def test_submit_wait_failed_job_exits_1(live):
    r = live.cli("submit", "fail", "--wait", "--json")
    assert r.rc == 1, r
    job = r.json()
    assert job["state"] == "failed" and job["exit_code"] == 3, job
    assert "failed" in r.err, r
    r = live.cli("job", job["id"], "--json")
    assert "broken" in r.json()["log"], r


def test_submit_bad_payload_is_usage_error(live):
    for payload in ("{not json", "{\"a\": }", "", "[1, 2"):
        r = live.cli("submit", "echo", f"--payload={payload}")
        assert r.rc == 2, (payload, r)
        assert "payload" in r.err, (payload, r)
        assert r.out == "", (payload, r)
    assert live.client.jobs() == [], "a refused payload must not create a job"


def test_unknown_role_is_refused(live):
    r = live.cli("submit", "no-such-role", "--payload={}")
    assert r.rc == 4, r
    assert "no-such-role" in r.err, r
    assert r.out == "", r
    r = live.cli("job", "0123456789abcdef")
    assert r.rc == 4, r


def test_jobs_workers_cancel(live):
    ids = []
    for i in range(3):
        r = live.cli("submit", "echo", f'--payload={{"i": {i}}}')
        assert r.rc == 0, r
        ids.append(r.out.strip())
    live.wait_jobs(ids)
    r = live.cli("jobs", "--json")
    assert r.rc == 0, r
    listed = [j["id"] for j in r.json()]
    assert listed[:3] == ids[::-1], r                         # newest first
    r = live.cli("jobs", "--json", "--limit=2")
    assert len(r.json()) == 2, r
    r = live.cli("jobs", "--json", "--state=failed")
    assert r.json() == [], r
    r = live.cli("jobs", "--json", "--job-role=sleep")
    assert r.json() == [], r
    r = live.cli("jobs", "--json", "--job-role=echo", "--state=succeeded")
    assert {j["id"] for j in r.json()} >= set(ids), r
    r = live.cli("jobs")
    assert r.rc == 0 and all(i in r.out for i in ids), r

    r = live.cli("workers", "--json")
    assert r.rc == 0, r
    (w,) = r.json()
    for key in ("id", "name", "state", "roles", "slots", "running", "labels", "version",
                "address", "heartbeat_ms", "last_seen_ms"):
        assert key in w, (key, w)
    assert w["state"] == "online" and w["slots"] == 2 and w["heartbeat_ms"] == 200, w
    assert set(w["roles"]) == {"echo", "sleep", "fail"}, w

    # cancel a queued job (no worker serves the where label), then a finished one
    jid = live.submit("echo", {"q": 1}, where={"zone": "nowhere"})
    r = live.cli("cancel", jid)
    assert r.rc == 0, r
    assert live.job(jid)["state"] == "cancelled"
    r = live.cli("cancel", jid)
    assert r.rc == 4, r
    r = live.cli("jobs", "--state=bogus")
    assert r.rc == 4, r
