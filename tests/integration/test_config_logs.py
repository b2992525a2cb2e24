"""tests/integration/test_config_logs.py — the config file, `popebot-node
config`, and --log-format=json, on real processes.

A coordinator started from a JSON config file listens where the file says;
POPEBOT_* overrides the file and a flag overrides both (seen by which HTTP
port answers, and by `config --json` naming each value's source); a value
from the file takes effect (a queue limit refuses the extra job). A bad file
stops the node with the file and key named. `config` masks the join token.
With --log-format=json every line of a coordinator and a worker that ran
jobs parses as JSON, and their job lines carry job_id and worker_id.
"""
import json

import requests

from conftest import Proc, clean_env, free_port, run_cli, wait_for


def _answers(port):
    try:
        requests.get(f"http://127.0.0.1:{port}/api/info", timeout=1)
        return True
    except requests.RequestException:
        return False


def _coordinator(mesh, name, args, env):
    p = Proc(name, ["--role=coordinator"] + args, mesh.logs, env=clean_env(**env))
    mesh.procs.append(p)
    return p


def _stop(p):
    p.signal(15)
    assert p.wait(30) == 0, p.log_text()[-2000:]


def test_file_env_flag_precedence(mesh):
    port, h1, h2, h3 = free_port(), free_port(), free_port(), free_port()
    data = mesh.tmp / "own-data"
    cfg = mesh.tmp / "coordinator.json"
    cfg.write_text(json.dumps({
        "bind": f"tcp://127.0.0.1:{port}", "http": f"127.0.0.1:{h1}",
        "data-dir": str(data), "queue-limit": 2, "heartbeat": "200ms",
    }))
    # the file alone: HTTP where the file says, and its queue limit holds
    p = _coordinator(mesh, "coord-file", [f"--config={cfg}"], {})
    wait_for(lambda: _answers(h1), desc="HTTP on the file's port")
    cli = ["--coordinator", f"tcp://127.0.0.1:{port}", f"--data-dir={data}"]
    for _ in range(2):
        r = run_cli(["submit", "sleep"] + cli)
        assert r.rc == 0, r
    r = run_cli(["submit", "sleep"] + cli)
    assert r.rc == 4 and "queue" in r.err.lower(), r
    _stop(p)
    # the environment beats the file
    env = {"POPEBOT_CONFIG": str(cfg), "POPEBOT_HTTP": f"127.0.0.1:{h2}"}
    p = _coordinator(mesh, "coord-env", [], env)
    wait_for(lambda: _answers(h2), desc="HTTP on the environment's port")
    assert not _answers(h1)
    _stop(p)
    # a flag beats both
    p = _coordinator(mesh, "coord-flag", [f"--http=127.0.0.1:{h3}"], env)
    wait_for(lambda: _answers(h3), desc="HTTP on the flag's port")
    assert not _answers(h1) and not _answers(h2)
    _stop(p)
    # config --json names each source
    r = run_cli(["config", "--json", "--liveness=5"], env=clean_env(**env))
    assert r.rc == 0, r
    shown = r.json()
    assert shown["role"] == "coordinator" and shown["config_file"] == str(cfg)
    flags = shown["flags"]
    assert flags["http"] == {"value": f"127.0.0.1:{h2}", "source": "env"}
    assert flags["queue-limit"] == {"value": "2", "source": "file"}
    assert flags["bind"]["source"] == "file"
    assert flags["liveness"] == {"value": "5", "source": "flag"}
    assert flags["retention"] == {"value": "168h", "source": "default"}
    assert flags["config"] == {"value": str(cfg), "source": "env"}
    assert flags["tls-cert"] == {"value": None, "source": "default"}
    # and the text form too
    r = run_cli(["config", f"--config={cfg}", "--http=127.0.0.1:1"])
    assert r.rc == 0, r
    line = next(l for l in r.out.splitlines() if l.startswith("http "))
    assert line.split() == ["http", "flag", "127.0.0.1:1"]


def test_bad_file_refused(mesh):
    cases = [
        ('{"bind": "tcp://127.0.0.1:1",\n "colour": "blue"}', "key 'colour': unknown key"),
        ('{"slots": 4}', "key 'slots': unknown key (not a coordinator flag)"),
        ('{"queue-limit": "lots"}', "--queue-limit: bad value 'lots'"),
        ('{"retention": "72h",\n "http": }', "line 2"),
        ('{"http": ["127.0.0.1:1"]}', "key 'http': expected a string, number or true/false"),
    ]
    for i, (text, want) in enumerate(cases):
        cfg = mesh.tmp / f"bad{i}.json"
        cfg.write_text(text)
        r = run_cli(["--role=coordinator", f"--config={cfg}", f"--data-dir={mesh.tmp / 'x'}"],
                    timeout=30)
        assert r.rc == 2, (text, r)
        first = r.err.splitlines()[0]
        assert str(cfg) in first and want in first, (text, first)
        assert not (mesh.tmp / "x").exists()      # refused before doing anything
    r = run_cli(["--role=worker", f"--config={mesh.tmp / 'missing.json'}"], timeout=30)
    assert r.rc == 2 and "missing.json" in r.err, r


def test_config_masks_join_token(mesh):
    secret = "pbj1_" + "s3cr3t" * 8
    # a file may not hold a join token: the worker forgets its token once
    # enrolled (environment and argv copies), which a file would defeat
    bad = mesh.tmp / "with-token.json"
    bad.write_text(json.dumps({"join": secret}))
    r = run_cli(["config", "--role=worker", f"--config={bad}"])
    assert r.rc == 2 and "POPEBOT_JOIN" in r.err and "s3cr3t" not in r.out + r.err, r
    cfg = mesh.tmp / "worker.json"
    cfg.write_text(json.dumps({"slots": 3}))
    r = run_cli(["config", "--role=worker", f"--config={cfg}", "--json"],
                env=clean_env(POPEBOT_JOIN=secret))
    assert r.rc == 0, r
    assert "s3cr3t" not in r.out + r.err
    flags = r.json()["flags"]
    assert flags["join"] == {"value": "***", "source": "env"}
    assert flags["slots"] == {"value": "3", "source": "file"}
    r = run_cli(["config", "--role=worker", f"--join={secret}"])
    assert r.rc == 0 and "s3cr3t" not in r.out + r.err, r
    assert next(l for l in r.out.splitlines() if l.startswith("join ")).split() == \
        ["join", "flag", "***"]
    # unset, it is shown as unset rather than masked
    r = run_cli(["config", "--role=worker", "--json"])
    assert r.json()["flags"]["join"] == {"value": None, "source": "default"}


def _json_lines(proc):
    out = []
    for line in proc.log_text().splitlines():
        if line.startswith("==== start:"):
            continue                      # the harness's own marker
        rec = json.loads(line)            # every node line is one JSON object
        assert set(rec) >= {"time", "level", "component", "message"}, rec
        assert rec["level"] in ("debug", "info", "warn", "error"), rec
        out.append(rec)
    return out


def test_json_logs(mesh):
    mesh.start_coordinator(extra=["--log-format=json"])
    mesh.start_worker("jw1", extra=["--log-format=json"])
    ids = [mesh.submit("echo", {"say": 'quote " backslash \\ newline \n tab \t é'})
           for _ in range(3)]
    for jid in ids:
        assert mesh.wait_job(jid)["state"] == "succeeded"
    mesh.workers["jw1"].signal(15)
    assert mesh.workers["jw1"].wait(30) == 0
    worker = _json_lines(mesh.workers["jw1"])
    coord = _json_lines(mesh.coord)
    for jid in ids:
        wl = [r for r in worker if r.get("job_id") == jid]
        assert wl and all(r["worker_id"] == "jw1" and r["component"] == "worker" for r in wl), wl
        cl = [r for r in coord if r.get("job_id") == jid]
        assert any(r.get("worker_id") == "jw1" and "succeeded" in r["message"] for r in cl), cl
    # every line about a job names it in a field of its own
    for r in worker + coord:
        if r["message"].startswith("job "):
            assert r["message"].split()[1].rstrip(":") == r["job_id"], r
    # worker lines carry the worker id
    assert any(r.get("worker_id") == "jw1" and "started" in r["message"] and "job_id" not in r
               for r in worker)
    assert any(r.get("worker_id") == "jw1" and "job_id" not in r for r in coord)
