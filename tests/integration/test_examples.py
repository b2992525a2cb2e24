"""The examples in examples/, each run for real: quickstart.sh whole; the
roles loaded from the example role files and run by a real worker;
trigger.sh triggering the agent role; http-worker.sh serving a registration
over HTTP; the fan-out job submitting sub-jobs and aggregating them; the
trigger roles (a weekday schedule in Berlin feeding the agent, a file watch
whose script counts the changed files' lines).
The example scripts are found by a worker on the job's PATH, as the
examples' README tells an operator to arrange it."""
import datetime
import json
import os
import subprocess
import time
from zoneinfo import ZoneInfo

from conftest import BIN, REPO, clean_env, wait_for

EX = REPO / "examples"
ROLE_FILES = (EX / "roles" / "textstats.json", EX / "agent" / "roles.json",
              EX / "fanout" / "roles.json")


def example_roles():
    roles = []
    for f in ROLE_FILES:
        roles += json.loads(f.read_text())["roles"]
    return roles


def job_path():
    """PATH for workers: the binary and the example scripts first."""
    dirs = [os.path.dirname(os.path.abspath(BIN)), str(EX / "roles"), str(EX / "agent"),
            str(EX / "fanout"), str(EX / "triggers")]
    return ":".join(dirs + [os.environ.get("PATH", "/usr/bin:/bin")])


def run(args, env, timeout=90):
    p = subprocess.run([str(a) for a in args], capture_output=True, text=True, env=env,
                       timeout=timeout, stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout, p.stderr


def test_quickstart_runs_100_jobs(tmp_path):
    env = clean_env(PATH=os.path.dirname(os.path.abspath(BIN)) + ":" + os.environ["PATH"],
                    TMPDIR=tmp_path)
    rc, out, err = run([EX / "quickstart.sh"], env, timeout=180)
    assert rc == 0, (out, err)
    assert "100 jobs: 100 succeeded, 0 failed" in out, out
    assert out.count("quickstart-") >= 3, out          # three workers listed
    # everything stopped, the temp dir removed
    assert not list(tmp_path.glob("popebot-quickstart.*")), list(tmp_path.iterdir())


def test_script_role_from_example_file(mesh):
    mesh.start_coordinator(roles=example_roles())
    mesh.start_worker("w1", roles="textstats", env={"PATH": job_path()})
    jid = mesh.submit("textstats", "one two\nthree $(touch pwned) 'x")
    job = mesh.wait_job(jid)
    assert job["state"] == "succeeded", job
    assert job["result"] == {"job": jid, "attempt": 1, "lines": 2, "words": 6,
                             "chars": len("one two\nthree $(touch pwned) 'x")}, job
    assert "textstats: done" in job["log"]
    assert not list(mesh.tmp.rglob("pwned"))
    bad = mesh.wait_job(mesh.submit("textstats", {"text": 5}))
    assert bad["state"] in ("failed", "dead") and "payload must be" in bad["log"], bad


def test_trigger_sh_runs_the_agent_role(mesh):
    mesh.start_coordinator(roles=example_roles())
    mesh.start_worker("w1", roles="agent", env={"PATH": job_path()})
    env = clean_env(POPEBOT_URL=mesh.url, POPEBOT_API_KEY=mesh.key("submit:agent,read"))
    prompt = "why is the build slow; $(rm -rf ~) 'today"
    rc, out, err = run([EX / "trigger.sh", "--wait", "agent", prompt], env)
    assert rc == 0, (out, err)
    jid, answer = out.split("\n", 1)
    assert answer == (f"You asked: {prompt}\n"
                      "Answer: 9 words; the longest is \"'today\".\n\n"), out
    job = mesh.job(jid)
    assert job["role"] == "agent" and job["payload"] == {"prompt": prompt}, job
    # without --wait: the id only, any body with --body, cluster id given
    cid = mesh.http("GET", "/api/info").json()["cluster_id"]
    env["POPEBOT_CLUSTER_ID"] = cid
    rc, out, err = run([EX / "trigger.sh", "agent", '--body={"prompt":"hi there","repo":"x"}'], env)
    assert rc == 0, (out, err)
    job = mesh.wait_job(out.strip())
    assert job["state"] == "succeeded" and "the longest is \"there\"" in job["result"], job
    # a body without a prompt: the agent fails and says why
    rc, out, err = run([EX / "trigger.sh", "--wait", "agent", '--body={"repo":"x"}'], env)
    assert rc == 1 and "failed" in err, (out, err)
    # a key that may not trigger it
    env["POPEBOT_API_KEY"] = mesh.key("read")
    rc, out, err = run([EX / "trigger.sh", "agent", "x"], env)
    assert rc == 3 and "403" in err, (out, err)


LINES = {"name": "lines", "shell": True, "max_attempts": 1,
         "command": "echo first; echo second >&2; echo \"payload $(cat)\"; "
                    "printf '{\"id\":\"%s\"}' {{JOB_ID}} > \"$POPEBOT_JOB_RESULT\""}
FAILS = {"name": "fails", "command": ["sh", "-c", "echo broken; exit 7"], "max_attempts": 1}


def test_http_worker_sh_serves_a_registration(mesh, tmp_path):
    mesh.start_coordinator(roles=example_roles() + [LINES, FAILS])
    r = mesh.http("POST", "/api/clusters",
                  json_body={"name": "bash", "roles": ["lines", "textstats", "echo", "fails"],
                             "slots": 1})
    assert r.status_code == 201, r.text
    reg = r.json()
    ids = [mesh.submit("lines", {"n": 1}), mesh.submit("textstats", {"text": "a b c"}),
           mesh.submit("echo", {"e": [1, 2]}), mesh.submit("fails", {})]
    env = clean_env(PATH=job_path(), TMPDIR=tmp_path, POPEBOT_URL=mesh.url,
                    POPEBOT_WORKER_ID=reg["id"], POPEBOT_WORKER_TOKEN=reg["token"])
    rc, out, err = run([EX / "http-worker.sh", "--max-jobs=4", "--wait=5"], env, timeout=120)
    assert rc == 0, (out, err)
    assert "refused" not in err, err
    lines, stats, echo, fails = (mesh.wait_job(i) for i in ids)
    assert lines["state"] == "succeeded" and lines["worker"] == reg["id"], lines
    assert lines["result"] == {"id": ids[0]}, lines
    assert sorted(lines["log"].splitlines()) == sorted(["first", "second", 'payload {"n":1}']), lines
    assert stats["state"] == "succeeded" and stats["result"]["words"] == 3, stats
    assert echo["state"] == "succeeded" and echo["result"] == {"e": [1, 2]}, echo
    assert fails["state"] == "failed" and fails["exit_code"] == 7, fails
    assert "exit status 7" in fails["error"] and fails["log"] == "broken\n", fails
    # the worker left no temp files behind
    assert not list(tmp_path.glob("popebot-http-worker.*"))


def test_fanout_aggregates_its_sub_jobs(mesh, tmp_path):
    mesh.start_coordinator(roles=example_roles())
    home = tmp_path / "home"
    home.mkdir()
    # the CLI identity jobs submit with: enrolled once, in $HOME/.config/popebot
    r = subprocess.run([BIN, "workers", f"--coordinator={mesh.endpoint}"], capture_output=True,
                       text=True, timeout=60,
                       env=clean_env(HOME=home, POPEBOT_JOIN=mesh.join_token()))
    assert r.returncode == 0, r
    mesh.start_worker("w1", roles="fanout,square", slots=8,
                      env={"PATH": job_path(), "HOME": str(home)})
    jid = mesh.submit("fanout", {"n": 6})
    job = mesh.wait_job(jid, timeout=90)
    assert job["state"] == "succeeded", job
    res = job["result"]
    assert res["numbers"] == [1, 2, 3, 4, 5, 6] and res["squares"] == [1, 4, 9, 16, 25, 36], res
    assert res["sum"] == 91 and res["n"] == 6 and len(set(res["jobs"])) == 6, res
    for sub in res["jobs"]:
        s = mesh.job(sub)
        assert s["role"] == "square" and s["state"] == "succeeded", s
    # a sub-job that fails fails the fan-out job, which names it
    bad = mesh.wait_job(mesh.submit("fanout", {"numbers": [2, 10**10]}), timeout=90)
    assert bad["state"] == "failed", bad
    assert "sub-job for 10000000000 did not succeed" in bad["log"], bad
    assert "1 of 2 sub-jobs failed" in bad["log"], bad
    bad = mesh.wait_job(mesh.submit("fanout", {"n": 0}))
    assert bad["state"] == "failed" and "payload must be" in bad["log"], bad


def next_weekday_8am_berlin(now_ms):
    berlin = ZoneInfo("Europe/Berlin")
    day = datetime.datetime.fromtimestamp(now_ms / 1000, berlin).date()
    while True:
        at = datetime.datetime.combine(day, datetime.time(8, 0), berlin)
        if at.weekday() < 5 and at.timestamp() * 1000 > now_ms:
            return int(at.timestamp() * 1000)
        day += datetime.timedelta(days=1)


def test_trigger_roles_schedule_the_agent_and_watch_an_inbox(mesh, tmp_path):
    roles = json.loads((EX / "triggers" / "roles.json").read_text())["roles"]
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for r in roles:                       # the example's /srv/popebot/inbox, here
        for t in r.get("triggers", []):
            if t["type"] == "watch":
                t["paths"] = [str(inbox)]
    mesh.start_coordinator(roles=roles)
    mesh.start_worker("w1", roles="inbox,daily-brief", env={"PATH": job_path()})
    now = time.time() * 1000
    brief = mesh.http("GET", "/api/roles/daily-brief").json()
    assert brief["trigger_status"][0]["next_run_ms"] == next_weekday_8am_berlin(now), brief
    # what the schedule's job will do: the agent answers its prompt
    prompt = brief["triggers"][0]["payload"]["prompt"]
    job = mesh.wait_job(mesh.submit("daily-brief", {"prompt": prompt}))
    assert job["state"] == "succeeded" and prompt in job["log"], job

    (inbox / "a.txt").write_text("1\n2\n3\n")
    (inbox / "b.txt").write_text("x\n")

    def inbox_job():
        r = mesh.http("GET", "/api/jobs?role=inbox", key="read").json()["jobs"]
        return r[0] if r else None
    j = mesh.wait_job(wait_for(inbox_job, timeout=20, desc="the inbox job")["id"])
    assert j["state"] == "succeeded", j
    assert j["result"] == {"files": 2, "gone": 0, "lines": 4,
                           "paths": [str(inbox / "a.txt"), str(inbox / "b.txt")]}, j
    assert "a.txt: 3 line(s)" in j["log"]
