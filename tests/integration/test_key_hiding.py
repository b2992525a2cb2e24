"""A job cannot read the worker's CURVE keys: the worker covers its key
directory with an empty tmpfs in each job's own mount namespace. Run as an
ordinary user (the recommended way) the job has no capability to undo it;
run as root the worker says at start that root jobs could. (The
unprivileged path is tested in tests/unit/test_hide.c, which can drop to
another user without the pytest tree's permissions in the way.)"""
import os

PROBE = ('n=$(ls -A "$1" | wc -l); '
         'if cat "$1"/* >/dev/null 2>&1; then r=read; else r=unreadable; fi; '
         'printf "{\\"entries\\":%s,\\"keys\\":\\"%s\\"}" "$n" "$r" > "$POPEBOT_JOB_RESULT"')


def _roles(keydir):
    return [{"name": "peek", "max_attempts": 1,
             "command": ["/bin/sh", "-c", PROBE, "sh", str(keydir)]}]


def test_jobs_see_an_empty_key_dir(mesh):
    keydir = mesh.tmp / "keys" / "w1"
    mesh.start_coordinator(roles=_roles(keydir))
    mesh.start_worker("w1", roles="peek")
    assert len(os.listdir(keydir)) > 0          # the worker's keys are there...
    job = mesh.wait_job(mesh.submit("peek", {}))
    assert job["state"] == "succeeded", job
    assert job["result"] == {"entries": 0, "keys": "unreadable"}   # ...but not for the job
    log = mesh.workers["w1"].log_text()
    if os.geteuid() == 0:
        assert "running as root" in log
    else:
        assert "hidden from jobs" in log
