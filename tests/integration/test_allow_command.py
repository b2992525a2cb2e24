"""--allow-command: a worker starts only the executables it lists.

What is checked is the file the runner would execute: argv[0] looked up on
the job's own PATH (which a role's env may change), canonicalised, and
compared with the canonical listed paths; a shell role needs /bin/sh. A
refused job fails at once with an error naming the executable and the flag,
runs nothing, and the worker keeps serving."""
import os

from conftest import run_cli, wait_for

NOT_ALLOWED = "not allowed on this worker"


def _script(path, body):
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return path


def _setup(tmp):
    """Scripts, a fake `true` earlier on a role's PATH, a symlink to allow."""
    tools = tmp / "tools"
    fake = tmp / "fake"
    marks = tmp / "marks"
    for d in (tools, fake, marks):
        d.mkdir()
    ok = _script(tools / "ok.sh", 'echo ok-ran\n')
    mark = _script(tools / "mark.sh", 'touch "$1"\n')
    _script(fake / "true", 'touch "$0.ran"\n')          # a "true" that is not /bin/true
    link = tmp / "ok-link"
    link.symlink_to(ok)
    m = str(marks)
    roles = [
        {"name": "bytrue", "max_attempts": 1, "command": ["true"]},
        {"name": "fake_true", "max_attempts": 1, "command": ["true"],
         "env": {"PATH": f"{fake}:/usr/bin:/bin"}},
        {"name": "mark", "max_attempts": 1, "command": [str(mark), m + "/mark-{{JOB_ID}}"]},
        {"name": "dotdot", "max_attempts": 1,
         "command": [f"{tools}/../tools/mark.sh", m + "/dotdot-{{JOB_ID}}"]},
        {"name": "linked", "max_attempts": 1, "command": [str(ok)]},
        {"name": "shell_mark", "max_attempts": 1, "shell": True,
         "command": [f"touch {m}/shell-{{{{JOB_ID}}}}; echo shell-ran"]},
        {"name": "argv_sh", "max_attempts": 1,
         "command": ["sh", "-c", "echo argv-sh-ran"]},
    ]
    return roles, link, marks, fake


def _refused(j, executable):
    assert j["state"] == "failed", j
    assert j["attempts"] == 1, j
    err = j["error"] or ""
    assert NOT_ALLOWED in err and "--allow-command" in err, err
    assert executable in err, (executable, err)


def test_only_listed_executables_run(mesh, tmp_path):
    roles, link, marks, fake = _setup(tmp_path)
    mesh.start_coordinator(roles=roles)
    allow = f"/bin/true,{link}"
    w = mesh.start_worker("strict", roles="echo,sleep,bytrue,fake_true,mark,dotdot,linked,"
                          "shell_mark", extra=[f"--allow-command={allow}"])
    log = wait_for(lambda: "allowed commands:" in w.log_text() and w.log_text(),
                   timeout=10, desc="the allowed list in the worker log")
    assert f"allowed commands: /bin/true" in log and f"{link} -> " in log, log[-2000:]

    # listed: by name on PATH (/bin/true is /usr/bin/true on merged /usr),
    # and a file listed through a symlink to it
    j = mesh.wait_job(mesh.submit("bytrue", {}))
    assert j["state"] == "succeeded", j
    j = mesh.wait_job(mesh.submit("linked", {}))
    assert j["state"] == "succeeded" and j["result"] == "ok-ran\n", j

    # not listed: refused before anything runs
    jid = mesh.submit("mark", {})
    _refused(mesh.wait_job(jid), str(tmp_path / "tools" / "mark.sh"))
    jid2 = mesh.submit("dotdot", {})
    _refused(mesh.wait_job(jid2), os.path.realpath(tmp_path / "tools" / "mark.sh"))
    # the same name, found first on the role's own PATH: the file that
    # would run is checked, not the name
    jid3 = mesh.submit("fake_true", {})
    _refused(mesh.wait_job(jid3), os.path.realpath(fake / "true"))
    # a shell role runs /bin/sh, which is not listed
    jid4 = mesh.submit("shell_mark", {})
    j = mesh.wait_job(jid4)
    _refused(j, "/bin/sh")
    assert "shell role" in j["error"], j

    assert sorted(os.listdir(marks)) == [], "a refused job ran"
    assert not (fake / "true.ran").exists(), "the fake true ran"
    r = mesh.cli("job", jid, "--json")
    assert r.rc == 0 and r.json()["log"] == "", r        # no output: nothing ran

    # built-ins are always allowed, and the worker is still serving
    assert w.alive()
    j = mesh.wait_job(mesh.submit("echo", {"still": "here"}))
    assert j["state"] == "succeeded" and j["result"] == {"still": "here"}, j
    j = mesh.wait_job(mesh.submit("sleep", {"ms": 10}))
    assert j["state"] == "succeeded", j


def test_shell_roles_need_bin_sh(mesh, tmp_path):
    """Listing /bin/sh (here through POPEBOT_ALLOW_COMMAND) lets shell roles
    and argv roles that run sh through; other programs stay refused."""
    roles, _, marks, _ = _setup(tmp_path)
    mesh.start_coordinator(roles=roles)
    mesh.start_worker("shelly", roles="shell_mark,argv_sh,bytrue",
                      env={"POPEBOT_ALLOW_COMMAND": "/bin/sh"})
    jid = mesh.submit("shell_mark", {})
    j = mesh.wait_job(jid)
    assert j["state"] == "succeeded" and j["result"] == "shell-ran\n", j
    assert (marks / f"shell-{jid}").exists()
    j = mesh.wait_job(mesh.submit("argv_sh", {}))
    assert j["state"] == "succeeded" and j["result"] == "argv-sh-ran\n", j
    _refused(mesh.wait_job(mesh.submit("bytrue", {})), os.path.realpath("/bin/true"))


def test_without_the_flag_any_command_runs(mesh, tmp_path):
    roles, _, marks, _ = _setup(tmp_path)
    mesh.start_coordinator(roles=roles)
    w = mesh.start_worker("open", roles="mark,shell_mark")
    for role in ("mark", "shell_mark"):
        assert mesh.wait_job(mesh.submit(role, {}))["state"] == "succeeded"
    assert len(os.listdir(marks)) == 2
    assert "allowed commands: any" in w.log_text()


def test_relative_entry_is_a_usage_error(tmp_path):
    r = run_cli(["--role=worker", "--allow-command=/bin/sh,python3",
                 f"--work-dir={tmp_path / 'w'}"])
    assert r.rc == 2, r
    assert "--allow-command: 'python3' is not an absolute path" in r.err, r
