"""What a worker keeps from its jobs, and what it refuses to run.

- An ASSIGN for a role the worker does not serve is refused and runs nothing,
  even when the lease carries a command.
- A job's environment is the documented one: none of the worker's other
  variables (secrets) reach it.
- The work root is private (0700, also when it existed with looser bits),
  each job's work dir is 0700 and its payload file 0600; the job runs as the
  worker's own user and inherits none of the worker's open descriptors.
(Payload text staying data in argv and shell mode: test_commands.py.)"""
import json
import os
import stat

from conftest import PYTHON, done_items

# Dump everything a job can see about itself into its result file.
PROBE = r'''
import json, os, stat
fds = {}
for fd in sorted(os.listdir("/proc/self/fd"), key=int):
    try:
        fds[fd] = os.readlink("/proc/self/fd/" + fd)
    except OSError:
        pass                                   # the listing's own fd, now closed
wd = os.getcwd()
mode = lambda p: stat.S_IMODE(os.stat(p).st_mode)
out = {"env": dict(os.environ), "cwd": wd, "cwd_mode": mode(wd),
       "root_mode": mode(os.path.dirname(wd)),
       "payload_mode": mode(os.environ["POPEBOT_JOB_PAYLOAD_FILE"]),
       "ids": [os.getuid(), os.geteuid(), os.getgid(), os.getegid()], "fds": fds}
with open(os.environ["POPEBOT_JOB_RESULT"], "w") as f:
    json.dump(out, f)
'''

DOCUMENTED = {"PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "USER", "LOGNAME", "TERM",
              "POPEBOT_JOB_ID", "POPEBOT_JOB_ATTEMPT", "POPEBOT_JOB_WORKER_ID",
              "POPEBOT_JOB_ROLE", "POPEBOT_JOB_WORK_DIR", "POPEBOT_JOB_PAYLOAD",
              "POPEBOT_JOB_PAYLOAD_FILE", "POPEBOT_JOB_RESULT"}
SECRETS = {"AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI-not-for-jobs",
           "DATABASE_PASSWORD": "hunter2-not-for-jobs",
           "GITHUB_TOKEN": "ghp-not-for-jobs", "LD_LIBRARY_PATH": "/nonexistent-not-for-jobs"}


def test_job_sees_documented_env_and_private_dirs(mesh, tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text(PROBE)
    mesh.start_coordinator(roles=[{"name": "probe", "command": [PYTHON, str(probe)],
                                   "env": {"ROLE_VAR": "from the role"}}])
    root = tmp_path / "work-iso"
    root.mkdir(mode=0o755)
    os.chmod(root, 0o755)                      # whatever the umask: looser than 0700
    w = mesh.start_worker("iso", roles="probe", env=SECRETS)
    j = mesh.wait_job(mesh.submit("probe", {"x": 1}))
    assert j["state"] == "succeeded", j
    r = j["result"]

    env = r["env"]
    assert set(env) <= DOCUMENTED | {"ROLE_VAR"}, sorted(set(env) - DOCUMENTED)
    assert env["ROLE_VAR"] == "from the role", env
    leaked = [k for k, v in SECRETS.items() if k in env or any(v in x for x in env.values())]
    assert leaked == [], leaked

    assert r["root_mode"] == 0o700, oct(r["root_mode"])
    assert stat.S_IMODE(os.stat(root).st_mode) == 0o700
    assert "mode 0755 changed to 0700" in w.log_text()
    assert r["cwd_mode"] == 0o700, oct(r["cwd_mode"])
    assert r["payload_mode"] == 0o600, oct(r["payload_mode"])
    me = [os.getuid(), os.geteuid(), os.getgid(), os.getegid()]
    assert r["ids"] == me, (r["ids"], me)      # no other user, no set-id
    assert sorted(r["fds"], key=int) == ["0", "1", "2"], r["fds"]


def lease(jid, role, command, payload="{}"):
    return [jid, 1, role, payload, list(command), False, {}, 0]


def test_assign_for_unserved_role_runs_nothing(mesh, tmp_path):
    """A coordinator (here a fake one) that assigns a role the worker did not
    offer gets "rejected", and the lease's command is never run."""
    mesh.insecure = True       # the fake coordinator is a plaintext ROUTER
    fake = mesh.start_fake_coordinator()
    mesh.start_worker("picky", roles="echo", wait=False)
    fake.expect("HELLO")
    fake.wait_ping()
    mark = tmp_path / "ran"
    touch = ["/bin/sh", "-c", f"touch {mark}"]
    fake.send("ASSIGN", [lease("00000000000000a1", "build", touch),
                         lease("00000000000000a2", "sleep", [], '{"ms": 1}')])
    got = {}
    while len(got) < 2:
        got.update(done_items(fake.expect("DONE", timeout=30)))
    for jid, role in (("00000000000000a1", "build"), ("00000000000000a2", "sleep")):
        item = got[jid]
        assert item[2] == "rejected", item
        assert f"role '{role}' is not served by this worker" in item[5], item
    fake.idle(0.3)
    assert not mark.exists(), "the command of an unserved role ran"
    # what it does serve still runs
    fake.send("ASSIGN", [lease("00000000000000a3", "echo", [], json.dumps({"ok": 1}))])
    item = done_items(fake.expect("DONE", timeout=30))["00000000000000a3"]
    assert item[2] == "succeeded" and json.loads(item[4]) == {"ok": 1}, item
