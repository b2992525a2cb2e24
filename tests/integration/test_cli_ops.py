"""The operators' CLI commands against a real coordinator and worker:
`logs ID [-f] [--json]` (the LOGS command: byte ranges of a job's output),
`drain WORKER [--resume]` (DRAIN_WORKER) and `roles [--json]` (ROLES).

Exit codes (node/cli.h): 0 ok; 1 the followed job did not succeed (logs -f);
2 usage; 3 no answer within --timeout; 4 refused (no such job or worker)."""
import json
import subprocess
import time

import pytest

from conftest import BIN, Client, ProtoError, clean_env, enroll, run_cli

LINES = 20000                  # about 340 KB: more than one 256 KiB range


def roles(tmp):
    gate = tmp / "gate"
    gate.mkdir(exist_ok=True)
    return [
        {"name": "count", "shell": True, "timeout_ms": 60000,
         "command": f"for i in $(seq 1 {LINES}); do echo \"línea $i €\"; done"},
        {"name": "gated", "shell": True, "timeout_ms": 120000, "max_concurrency": 2, "max_attempts": 1,
         "where": {"zone": "a"},
         "command": f"echo first; while [ ! -e {gate}/go ]; do sleep 0.02; done; "
                    f"echo second; exit $(cat {gate}/go)"},
    ]


def start(mesh):
    mesh.start_coordinator(roles=roles(mesh.tmp))
    mesh.start_worker("w1", roles="echo,sleep,count,gated", slots=4, labels="zone=a")


def cli(mesh, *args):
    return run_cli(list(args) + [f"--coordinator={mesh.endpoint}"] + mesh.cli_flags())


def follow(mesh, jid, *extra):
    return subprocess.Popen([BIN, "logs", jid, "-f", *extra, f"--coordinator={mesh.endpoint}",
                             *mesh.cli_flags()], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=clean_env())


def test_logs_prints_the_whole_output(mesh):
    start(mesh)
    jid = mesh.submit("count")
    mesh.wait_job(jid, "succeeded")
    want = "".join(f"línea {i} €\n" for i in range(1, LINES + 1))
    r = cli(mesh, "logs", jid)
    assert r.rc == 0, r
    assert r.out == want                      # whole, in order, across ranges
    r = cli(mesh, "logs", jid, "--json")
    assert r.rc == 0, r
    pages = [json.loads(line) for line in r.out.splitlines()]
    assert len(pages) >= 2 and pages[0]["offset"] == 0
    assert all(a["next_offset"] == b["offset"] for a, b in zip(pages, pages[1:]))
    assert "".join(p["data"] for p in pages) == want
    assert pages[-1]["complete"] and pages[-1]["state"] == "succeeded"
    assert pages[-1]["next_offset"] == pages[-1]["end"] == len(want.encode())


def test_logs_follow_streams_until_the_job_ends(mesh):
    start(mesh)
    for code, rc in (("0", 0), ("3", 1)):
        gate = mesh.tmp / "gate" / "go"
        if gate.exists():
            gate.unlink()
        jid = mesh.submit("gated")
        mesh.wait_job(jid, "running")
        p = follow(mesh, jid)
        # "first" arrives while the job still runs, before the gate opens
        line = p.stdout.readline().decode()
        assert line == "first\n", (line, p.poll(), p.poll() is not None and p.stderr.read())
        assert p.poll() is None
        assert mesh.job(jid)["state"] == "running"
        tmp = gate.with_name("go.tmp")        # whole at once: the job reads it on sight
        tmp.write_text(code)
        tmp.rename(gate)
        out, err = p.communicate(timeout=30)
        assert (out.decode(), p.returncode) == ("second\n", rc), (err, mesh.job(jid))
        if rc:
            assert f"job {jid} failed" in err.decode(), err


def test_logs_errors(mesh):
    start(mesh)
    r = cli(mesh, "logs", "00000000000000ff")
    assert r.rc == 4 and "not-found" in r.err, r
    r = run_cli(["logs"])
    assert r.rc == 2 and "a job ID" in r.err, r
    r = run_cli(["logs", "x", "--coordinator=tcp://127.0.0.1:1", "--insecure", "--timeout=300ms"])
    assert r.rc == 3, r
    r = run_cli(["logs", "--help"])
    assert r.rc == 0 and "--follow" in r.out and "exit codes" in r.out, r


def test_drain_and_resume(mesh):
    start(mesh)
    wid = mesh.worker_info("w1")["id"]
    r = cli(mesh, "drain", wid)
    assert r.rc == 0, r
    assert r.out.splitlines()[0].split()[:3] == ["ID", "NAME", "STATE"]
    assert "draining" in r.out.splitlines()[1], r
    mesh.wait_worker("w1", "draining")
    jid = mesh.submit("echo", {"x": 1})
    time.sleep(1.0)
    assert mesh.job(jid)["state"] == "queued"      # a draining worker takes nothing
    r = cli(mesh, "drain", wid, "--resume", "--json")
    assert r.rc == 0, r
    assert r.json()["state"] == "online" and r.json()["id"] == wid
    mesh.wait_job(jid, "succeeded")
    # the HTTP API sees the same registration state
    assert mesh.http("GET", f"/api/clusters/{wid}").json()["state"] == "online"
    r = cli(mesh, "drain", "nobody")
    assert r.rc == 4 and "not-found" in r.err, r
    r = run_cli(["drain"])
    assert r.rc == 2 and "worker ID" in r.err, r


def test_roles_lists_what_the_api_lists(mesh):
    start(mesh)
    r = cli(mesh, "roles", "--json")
    assert r.rc == 0, r
    got = {x["name"]: x for x in r.json()}
    api = {x["name"]: x for x in mesh.http("GET", "/api/roles").json()["roles"]}
    assert got == api
    assert {"echo", "sleep", "count", "gated"} <= set(got)
    r = cli(mesh, "roles")
    assert r.rc == 0, r
    head, *rows = r.out.splitlines()
    assert head.split() == ["NAME", "ENABLED", "CONCURRENCY", "WHERE", "TRIGGERS", "COMMAND"]
    gated = next(x for x in rows if x.startswith("gated "))
    assert gated.split()[1:4] == ["yes", "2", "zone=a"], gated
    assert "echo first" in gated
    echo = next(x for x in rows if x.startswith("echo "))
    assert "any" in echo and "(built in)" in echo, echo


def test_only_the_local_key_may_drain_and_workers_see_no_roles_or_logs(mesh):
    """DRAIN_WORKER is an operator's act (the HTTP API wants an admin key):
    only the coordinator's local key may send it, not an enrolled client or
    worker key; a worker key may not read every role (their env) or any
    job's whole output either."""
    start(mesh)
    wid = mesh.worker_info("w1")["id"]
    jid = mesh.submit("echo", {"x": 1})
    mesh.wait_job(jid)
    for kind, name in (("worker", "w-sneaky"), ("client", "sneaky-cli")):
        keys, m = enroll(mesh.join_token(), kind, name)
        assert m and m[2] == "ENROLLED", m
        c = Client(mesh.endpoint, curve=keys)
        try:
            with pytest.raises(ProtoError) as e:
                c.call("DRAIN_WORKER", wid, True)
            assert e.value.code == "forbidden", kind
            if kind == "worker":
                for cmd, args in (("ROLES", ()), ("LOGS", (jid, 0, 1024))):
                    with pytest.raises(ProtoError) as e:
                        c.call(cmd, *args)
                    assert e.value.code == "forbidden", cmd
            else:
                assert any(r["name"] == "echo" for r in c.call("ROLES")[0])
        finally:
            c.close()
    assert mesh.worker_info("w1")["state"] == "online"
    assert cli(mesh, "drain", wid).rc == 0             # the local key may


def test_a_jobs_own_environment_is_not_cli_settings(mesh):
    """A job runs with POPEBOT_JOB_ROLE etc.; `popebot-node jobs` inside it
    must not read that as --job-role (the flag is command-line only)."""
    mesh.start_coordinator(roles=[{"name": "other", "command": ["true"]}])
    mesh.start_worker("w1", roles="echo,other")
    a = mesh.submit("echo", {"x": 1})
    b = mesh.submit("other")
    mesh.wait_jobs([a, b])
    env = {"POPEBOT_JOB_ROLE": "echo", "POPEBOT_JOB_ID": a}
    where = [f"--coordinator={mesh.endpoint}", *mesh.cli_flags()]
    r = run_cli(["jobs", "--json", *where], env=env)
    assert r.rc == 0, r
    assert {j["id"] for j in r.json()} >= {a, b}
    r = run_cli(["jobs", "--json", "--job-role=other", *where], env=env)
    assert [j["id"] for j in r.json()] == [b]


def test_submit_follow_streams_the_output_and_exits_as_the_job_ended(mesh):
    start(mesh)
    where = [f"--coordinator={mesh.endpoint}", *mesh.cli_flags()]
    p = subprocess.Popen([BIN, "submit", "gated", "--follow", *where], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=clean_env())
    try:
        first = p.stdout.readline()        # output shows while the job still runs
        assert first == b"first\n", first
        assert p.poll() is None
        gate = mesh.tmp / "gate"
        (gate / "tmp").write_text("3")
        (gate / "tmp").rename(gate / "go")
        out, err = p.communicate(timeout=60)
    finally:
        p.kill()
    assert out == b"second\n" and p.returncode == 1, (out, err)
    assert b"failed" in err
    (mesh.tmp / "gate" / "go").unlink()
    r = run_cli(["submit", "count", "--follow", *where], timeout=60)
    assert r.rc == 0 and r.out.count("\n") == LINES, r.err


def test_submit_wait_draws_a_progress_bar_on_a_terminal(mesh):
    """An HTTP worker's progress reports show as a bar while `submit --wait`
    runs on a terminal (script(1) gives it one); off a terminal, no bar."""
    from test_http_worker import EXT, HttpWorker
    mesh.start_coordinator(roles=[EXT])
    w = HttpWorker(mesh, "py")
    flags = " ".join([f"--coordinator={mesh.endpoint}", *mesh.cli_flags()])
    cmd = f"{BIN} submit ext --wait {flags}"
    p = subprocess.Popen(["script", "-qfec", cmd, "/dev/null"], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, env=clean_env())
    try:
        lease = w.take()
        jid = lease["job_id"]
        assert w.report({"type": "progress", "job_id": jid, "done": 3, "total": 8,
                         "message": "three of eight"}).status_code == 200
        time.sleep(2.5)                      # the CLI asks once a second
        assert w.report({"type": "result", "job_id": jid, "status": "succeeded",
                         "result": {"ok": 1}}).status_code == 200
        out, _ = p.communicate(timeout=30)
    finally:
        p.kill()
    text = out.decode(errors="replace")
    assert p.returncode == 0, text
    assert "[" + "#" * 11 + "." * 19 + "] 3/8 three of eight" in text, text
    assert '{"ok":1}' in text
