"""Command roles: argv templates, payload delivery, exit codes, results,
timeouts and cancels that kill the whole process tree, and payload text that
must stay data (no shell injection) in argv mode and in shell mode."""
import hashlib
import json
import os
import time

import pytest

from conftest import PYTHON, pid_alive, wait_for

PROBE = r'''
import json, os, sys
env = {k: v for k, v in os.environ.items() if k.startswith("POPEBOT_") or k.startswith("ROLE_")}
out = {"argv": sys.argv[1:], "stdin": sys.stdin.read(), "env": env, "cwd": os.getcwd(),
       "pgid_is_pid": os.getpgid(0) == os.getpid()}
with open(os.environ["POPEBOT_JOB_RESULT"], "w") as f:
    json.dump(out, f)
'''

# A process tree whose members ignore SIGTERM: only SIGKILL of the group ends it.
# The grandchild writes its pid to the file named by $1 once it is set up.
STUBBORN = ('trap "" TERM; (trap "" TERM; exec sleep 120) & '
            'echo $! > "$1.tmp" && mv "$1.tmp" "$1"; echo started; wait; wait')
# Parent dies on SIGTERM, its child ignores it: the group kill after the reap
# must still take the child.
LEAVER = ('(trap "" TERM; exec sleep 120) & echo $! > "$1.tmp" && mv "$1.tmp" "$1"; '
          'echo started; wait')


STDIN_SUM = (
    "import hashlib, json, os, sys\n"
    "d = sys.stdin.buffer.read()\n"
    "env = os.environ.get('POPEBOT_JOB_PAYLOAD')\n"
    "json.dump({'len': len(d), 'sha': hashlib.sha256(d).hexdigest(),\n"
    "           'env': None if env is None else hashlib.sha256(env.encode()).hexdigest()},\n"
    "          open(os.environ['POPEBOT_JOB_RESULT'], 'w'))\n")


def roles(tmp):
    probe = tmp / "probe.py"
    probe.write_text(PROBE)
    pids = tmp / "pids"
    pids.mkdir()
    return [
        {"name": "probe", "command": [PYTHON, str(probe), "{{PAYLOAD}}", "{{JOB_ID}}",
                                      "{{ATTEMPT}}", "{{WORKER_ID}}", "{{WORKER_NAME}}",
                                      "{{WORK_DIR}}", "{{ROLE}}", "literal {{ROLE}}-x"],
         "env": {"ROLE_K": "role value", "ROLE_EMPTY": ""}},
        {"name": "exit7", "max_attempts": 1,
         "command": ["/bin/sh", "-c", "echo to-stdout; echo oops >&2; exit 7"]},
        {"name": "stdout", "command": ["/bin/sh", "-c", "printf 'line1\\nline2 \"q\" \\\\ \\303\\274'"]},
        {"name": "stubborn", "timeout_ms": 1000, "max_attempts": 1,
         "command": ["/bin/sh", "-c", STUBBORN, "sh", str(pids / "stubborn-{{JOB_ID}}")]},
        {"name": "leaver", "timeout_ms": 1000, "max_attempts": 1,
         "command": ["/bin/sh", "-c", LEAVER, "sh", str(pids / "leaver-{{JOB_ID}}")]},
        {"name": "long", "command": ["/bin/sh", "-c", STUBBORN, "sh", str(pids / "long-{{JOB_ID}}")]},
        {"name": "argv_data", "command": ["/bin/sh", "-c", "printf '%s' \"$1\"", "sh", "{{PAYLOAD}}"]},
        {"name": "shell_data", "shell": True, "command": ["printf '%s' {{PAYLOAD}}"]},
        {"name": "shell_env", "shell": True,
         "command": ["printf '%s|%s' \"$POPEBOT_JOB_ROLE\" {{ROLE}}; exit 0"]},
        {"name": "missing", "max_attempts": 1, "command": ["/nonexistent/program", "x"]},
        {"name": "stdin_sum", "command": [PYTHON, "-c", STDIN_SUM]},
    ]


@pytest.fixture
def cmesh(mesh, tmp_path):
    mesh.start_coordinator(roles=roles(tmp_path))
    mesh.start_worker("cw", roles="echo,sleep,probe,exit7,stdout,stubborn,leaver,long,"
                      "argv_data,shell_data,shell_env,missing,stdin_sum", slots=4)
    mesh.pids = tmp_path / "pids"
    return mesh


def read_pid(path, timeout=30):
    def get():
        try:
            text = path.read_text().strip()
        except OSError:
            return None
        return int(text) if text.isdigit() else None
    return wait_for(get, timeout=timeout, desc=f"pid file {path}")


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().split(b"\0")
    except OSError:
        return []


def test_payload_reaches_argv_stdin_and_env(cmesh):
    payload = {"greeting": "hello world", "n": 3, "u": "\u00e9\u4e2d", "list": [1, {"a": None}]}
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    jid = cmesh.submit("probe", raw=text)
    j = cmesh.wait_job(jid)
    assert j["state"] == "succeeded", j
    assert j["exit_code"] == 0, j
    r = j["result"]                       # written to $POPEBOT_JOB_RESULT: the result
    assert isinstance(r, dict), j
    work_dir = r["cwd"]
    assert r["argv"] == [text, jid, "1", "cw", "cw", work_dir, "probe", "literal probe-x"], r
    assert r["stdin"] == text, r
    env = r["env"]
    assert env["POPEBOT_JOB_PAYLOAD"] == text, env
    assert env["POPEBOT_JOB_ID"] == jid and env["POPEBOT_JOB_ATTEMPT"] == "1", env
    assert env["POPEBOT_JOB_WORKER_ID"] == "cw" and env["POPEBOT_JOB_ROLE"] == "probe", env
    assert os.path.realpath(env["POPEBOT_JOB_WORK_DIR"]) == os.path.realpath(work_dir), env
    assert os.path.realpath(work_dir).startswith(os.path.realpath(cmesh.tmp / "work-cw")), r
    assert env["ROLE_K"] == "role value" and env["ROLE_EMPTY"] == "", env
    assert env["POPEBOT_JOB_RESULT"], env
    assert r["pgid_is_pid"] is True, "a job must run in its own process group"
    # the work dir does not outlive the job
    wait_for(lambda: not os.path.exists(work_dir), timeout=20, desc="work dir removed")


def test_nonzero_exit_fails_with_exit_code_and_log(cmesh):
    r = cmesh.cli("submit", "exit7", "--wait", "--json")
    assert r.rc == 1, r
    j = r.json()
    assert j["state"] == "failed" and j["exit_code"] == 7, j
    assert j["attempts"] == 1, j                       # a failure is not retried
    r = cmesh.cli("job", j["id"], "--json")
    assert r.rc == 0, r
    log = r.json()["log"]
    assert "oops" in log and "to-stdout" in log, log


def test_stdout_becomes_string_result(cmesh):
    jid = cmesh.submit("stdout", {})
    j = cmesh.wait_job(jid)
    assert j["state"] == "succeeded", j
    assert j["result"] == 'line1\nline2 "q" \\ \u00fc', j


def test_missing_program_fails(cmesh):
    j = cmesh.wait_job(cmesh.submit("missing", {}))
    assert j["state"] == "failed", j
    assert j["exit_code"] == 127 or j["error"], j


@pytest.mark.parametrize("role", ["stubborn", "leaver"])
def test_timeout_kills_whole_tree(cmesh, role):
    jid = cmesh.submit(role, {})
    gpid = read_pid(cmesh.pids / f"{role}-{jid}")
    assert pid_alive(gpid) and b"sleep" in cmdline(gpid)[0], cmdline(gpid)
    j = cmesh.wait_job(jid, timeout=60)
    assert j["state"] == "timed_out", j
    assert j["attempts"] == 1, j
    wait_for(lambda: not pid_alive(gpid), timeout=20,
             desc=f"grandchild {gpid} that ignores SIGTERM to be killed")
    # the worker is free again: it runs the next job
    assert cmesh.wait_job(cmesh.submit("echo", {"after": role}))["state"] == "succeeded"


def test_cancel_running_command(cmesh):
    jid = cmesh.submit("long", {})
    gpid = read_pid(cmesh.pids / f"long-{jid}")
    assert cmesh.job(jid)["state"] == "running"
    r = cmesh.cli("cancel", jid)
    assert r.rc == 0, r
    assert jid in r.out, r
    j = cmesh.wait_job(jid, timeout=60)
    assert j["state"] == "cancelled", j
    wait_for(lambda: not pid_alive(gpid), timeout=20, desc=f"process {gpid} to be killed")
    w = cmesh.worker_info("cw")
    assert w["running"] == 0, w
    r = cmesh.cli("cancel", jid)               # already ended: refused
    assert r.rc == 4, r


NASTY = ("$(touch {m}/dollar) `touch {m}/tick` ; touch {m}/semi && rm -rf {m}/nothing | "
         "touch {m}/pipe ' ; touch {m}/quote ; ' \" ; touch {m}/dquote ; \" \\ \\' "
         "$HOME ${{PATH}} * ? [a] {{{{PAYLOAD}}}} {{{{JOB_ID}}}} \u00fc \t end")


@pytest.mark.parametrize("role", ["argv_data", "shell_data"])
def test_payload_metacharacters_are_data(cmesh, tmp_path, role):
    marks = tmp_path / "marks"
    marks.mkdir()
    payload = {"text": NASTY.format(m=marks)}
    text = json.dumps(payload, ensure_ascii=False)
    assert "'" in text and '"' in text and "$(" in text and "`" in text
    jid = cmesh.submit(role, raw=text)
    j = cmesh.wait_job(jid)
    assert j["state"] == "succeeded", j
    assert j["result"] == text, (j["result"], text)   # arrived byte for byte
    assert json.loads(j["result"]) == payload
    time.sleep(0.2)
    assert sorted(os.listdir(marks)) == [], "payload text was executed"


def test_shell_mode_placeholder_and_env(cmesh):
    j = cmesh.wait_job(cmesh.submit("shell_env", {}))
    assert j["state"] == "succeeded", j
    assert j["result"] == "shell_env|shell_env", j


def test_cancel_builtin_and_queued(cmesh):
    jid = cmesh.submit("sleep", {"ms": 60000})
    wait_for(lambda: cmesh.job(jid)["state"] == "running", timeout=30, desc="sleep running")
    r = cmesh.cli("cancel", jid)
    assert r.rc == 0, r
    j = cmesh.wait_job(jid, timeout=30)
    assert j["state"] == "cancelled" and j["attempts"] == 1, j
    # queued (no worker serves the label): cancelled at once, never started
    q = cmesh.submit("echo", {}, where={"nowhere": "1"})
    r = cmesh.cli("cancel", q)
    assert r.rc == 0 and "cancelled" in r.out, r
    j = cmesh.job(q)
    assert j["state"] == "cancelled" and j["attempts"] == 0 and j["started_ms"] is None, j


def test_big_payload_on_stdin(cmesh, tmp_path):
    """A payload far larger than a pipe buffer (and than one argv or env string
    may be, 128 KiB) still reaches a command's stdin intact."""
    big = {"blob": "".join(chr(0x41 + i % 26) for i in range(300_000)), "tail": "\u00fc"}
    text = json.dumps(big, ensure_ascii=False, separators=(",", ":"))
    f = tmp_path / "big.json"
    f.write_text(text)
    r = cmesh.cli("submit", "echo", "--wait", f"--payload=@{f}", timeout_s=120)
    assert r.rc == 0 and json.loads(r.out) == big, r.err[-500:]
    jid = cmesh.submit("stdin_sum", raw=text)
    j = cmesh.wait_job(jid, timeout=60)
    assert j["state"] == "succeeded", (j["state"], j["error"],
                                       cmesh.cli("job", jid, "--json").json()["log"][-300:])
    data = text.encode()
    assert j["result"]["len"] == len(data), j["result"]
    assert j["result"]["sha"] == hashlib.sha256(data).hexdigest(), j["result"]
