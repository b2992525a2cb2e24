"""tests/integration/test_deploy_files.py — the deployment files work as written.

There is no Docker engine and no systemd as PID 1 here, so the files are
checked in two ways: their structure is parsed (Dockerfile lines, compose
YAML, `systemd-analyze verify` on the units), and what they would run is
run for real: the Dockerfile's HEALTHCHECK command against a live
coordinator, and the compose file's coordinator and worker entrypoints, as
written, as real processes (with the image's ENV, the container paths and
host names mapped to a temporary directory and loopback ports). Also: the
image's file layout serves HTTPS (web/tls.c finds the shim libraries), the
runtime packages provide every linked library, the worker unit's privilege
settings keep the key cover working, and the backup recipe of
docs/OPERATIONS.md (mdb_copy of a live store) gives a copy a coordinator
starts from.
"""
import json
import os
import re
import shutil
import signal
import subprocess
from pathlib import Path

import pytest
import yaml

import conftest
from conftest import BIN, REPO, Proc, clean_env, free_port, run_cli, wait_for

DOCKERFILE = REPO / "Dockerfile"
COMPOSE = REPO / "examples" / "docker-compose.yml"
UNITS = REPO / "examples" / "systemd"


# ---- the Dockerfile -----------------------------------------------------------

def dockerfile_instructions():
    """[(INSTRUCTION, argument text)] with continuation lines joined."""
    text = re.sub(r"\\\n", "", DOCKERFILE.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def runtime_stage():
    """The instructions after the last FROM."""
    ins = dockerfile_instructions()
    last = max(i for i, (w, _) in enumerate(ins) if w == "FROM")
    return ins[last:]


def image_env():
    """ENV of the runtime stage as a dict (KEY=VALUE form)."""
    env = {}
    for w, rest in runtime_stage():
        if w == "ENV":
            for k, v in re.findall(r"(\w+)=(\S+)", rest):
                env[k] = v
    return env


def healthcheck_argv():
    (rest,) = [r for w, r in runtime_stage() if w == "HEALTHCHECK"]
    return json.loads(rest[rest.index("CMD ") + 4:])


def test_dockerfile_stages_and_runtime_lines():
    ins = dockerfile_instructions()
    froms = [r for w, r in ins if w == "FROM"]
    assert len(froms) == 2 and all(f.startswith("debian:bookworm-slim") for f in froms), froms
    build = ins[:[i for i, (w, _) in enumerate(ins) if w == "FROM"][1]]
    runs = " ".join(r for w, r in build if w == "RUN")
    assert "scripts/bootstrap --build" in runs and "cmake --build" in runs, runs
    assert "CMAKE_BUILD_TYPE=RelWithDebInfo" in runs      # what `make test` builds
    assert "-DPOPEBOT_TESTS=OFF" in runs                  # ... less the tests
    rt = runtime_stage()
    words = [w for w, _ in rt]
    assert any("bootstrap --runtime" in r for w, r in rt if w == "RUN")
    user = [r for w, r in rt if w == "USER"]
    assert user and user[-1] not in ("root", "0"), user
    assert words.index("USER") < words.index("ENTRYPOINT")
    assert [r for w, r in rt if w == "EXPOSE"] == ["5555 8080"]
    assert [r for w, r in rt if w == "VOLUME"] == ["/data"]
    assert json.loads([r for w, r in rt if w == "ENTRYPOINT"][0]) == ["popebot-node"]
    assert healthcheck_argv()[0] == "bash"
    # the binary and both TLS shim libraries, where web/tls.c looks for them
    copies = [r for w, r in rt if w == "COPY" and r.startswith("--from=build")]
    binary = [c for c in copies if c.endswith("/usr/local/bin/popebot-node")]
    shims = [c for c in copies if "libpopebot-libssl.so" in c and "libpopebot-libcrypto.so" in c]
    assert binary and shims and shims[0].endswith("/usr/local/lib/popebot/"), copies


def run_healthcheck(http, timeout=20):
    env = clean_env(POPEBOT_HTTP=http)
    return subprocess.run(healthcheck_argv(), env=env, capture_output=True, timeout=timeout)


def test_healthcheck_command_against_a_live_coordinator(mesh):
    mesh.start_coordinator()
    r = run_healthcheck(f"0.0.0.0:{mesh.http_port}")
    assert r.returncode == 0, r.stderr
    mesh.coord.signal(signal.SIGTERM)
    assert mesh.coord.wait() == 0
    r = run_healthcheck(f"0.0.0.0:{mesh.http_port}")
    assert r.returncode != 0, "the health check passed with no coordinator"


def test_image_layout_serves_https(tmp_path, tls_cert):
    """The binary and the two libraries where the runtime stage COPYs them:
    web/tls.c must find the libraries (../lib/popebot) for HTTPS to work."""
    root = tmp_path / "image"
    build = Path(BIN).resolve().parent
    for w, rest in runtime_stage():
        if w == "COPY" and rest.startswith("--from=build "):
            *srcs, dest = rest.split()[1:]
            for src in srcs:
                name = Path(src).name
                target = root / dest.lstrip("/") / (name if dest.endswith("/") else "")
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(build / name, target)
    binary = root / "usr/local/bin/popebot-node"
    assert binary.exists() and not list(binary.parent.glob("*.so")), "libraries beside the binary"
    port, http = free_port(), free_port()
    crt, key = tls_cert
    p = subprocess.Popen([str(binary), "--role=coordinator", f"--bind=tcp://127.0.0.1:{port}",
                          f"--http=127.0.0.1:{http}", f"--data-dir={tmp_path / 'data'}",
                          f"--tls-cert={crt}", f"--tls-key={key}"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=clean_env(),
                         preexec_fn=conftest._child_setup)
    try:
        import requests

        def up():
            assert p.poll() is None, p.stderr.read().decode()
            try:
                return requests.get(f"https://127.0.0.1:{http}/healthz", verify=str(crt),
                                    timeout=5).status_code == 200
            except requests.ConnectionError:
                return False
        wait_for(up, timeout=30, desc="HTTPS from the image layout")
    finally:
        p.terminate()
        p.wait(timeout=30)


def bootstrap_packages(name):
    m = re.search(rf"^{name}=\(([^)]*)\)", (REPO / "scripts" / "bootstrap").read_text(), re.M)
    return {w for line in m.group(1).splitlines() for w in line.split("#")[0].split()}


def bootstrap_runtime_packages():
    return bootstrap_packages("runtime_pkgs")


def test_the_image_build_stage_needs_no_test_tools(tmp_path):
    """`bootstrap --build` is the compiler and -dev packages only (no browser,
    fuzzer or python), and cmake configures without the test tools' packages
    when POPEBOT_TESTS=OFF: no test or benchmark targets, the binary still."""
    compile = bootstrap_packages("compile_pkgs")
    assert {"build-essential", "cmake", "libczmq-dev", "libcivetweb-dev"} <= compile
    assert not {p for p in compile if p.startswith(("chromium", "clang", "python3", "libcmocka"))}
    assert "tzdata" in bootstrap_runtime_packages()          # the zones of cron triggers
    out = subprocess.run(["cmake", "-S", str(REPO), "-B", str(tmp_path), "-DPOPEBOT_TESTS=OFF"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    targets = subprocess.run(["cmake", "--build", str(tmp_path), "--target", "help"],
                             capture_output=True, text=True, timeout=60).stdout
    assert "popebot-node" in targets and "test_role" not in targets and "bench_" not in targets
    assert "cmocka" not in (tmp_path / "CMakeCache.txt").read_text().lower()


def test_runtime_packages_provide_every_library():
    """What the runtime stage installs (`bootstrap --runtime`) holds every
    shared library the binary and the two shims link against directly
    (the packages' own dependencies bring the rest; libc6 is in every
    Debian image)."""
    allowed = bootstrap_runtime_packages() | {"libc6"}
    build = Path(BIN).resolve().parent
    needed = set()
    for f in ("popebot-node", "libpopebot-libssl.so", "libpopebot-libcrypto.so"):
        out = subprocess.run(["readelf", "-d", str(build / f)], capture_output=True, text=True,
                             check=True).stdout
        needed |= set(re.findall(r"\(NEEDED\)\s+Shared library: \[(.+?)\]", out))
    # a -fsanitize build links the sanitizer runtimes; the image's build does not
    needed = {n for n in needed if not n.startswith(("libasan", "libubsan"))}
    cache = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True, check=True).stdout
    missing = []
    for soname in sorted(needed):
        m = re.search(rf"^\s*{re.escape(soname)} \(libc6[^)]*\) => (\S+)$", cache, re.M)
        assert m, f"{soname} is not installed here"
        path = m.group(1)
        owner = None
        for candidate in (path, os.path.realpath(path), "/usr" + path):
            r = subprocess.run(["dpkg", "-S", candidate], capture_output=True, text=True)
            if r.returncode == 0:
                owner = r.stdout.split(":")[0]
                break
        assert owner, f"no package owns {path}"
        if owner not in allowed:
            missing.append(f"{soname} ({owner})")
    assert not missing, f"not in bootstrap's runtime_pkgs: {missing}"


# ---- docker-compose.yml ---------------------------------------------------------

def compose():
    return yaml.safe_load(COMPOSE.read_text())


def test_compose_structure():
    c = compose()
    s = c["services"]
    assert set(s) == {"coordinator", "worker"}
    coord, worker = s["coordinator"], s["worker"]
    for svc in (coord, worker):        # one image, built here, never pulled
        assert svc["image"] == coord["image"] and svc["build"] == coord["build"]
    assert coord["build"]["context"] == ".." and (COMPOSE.parent / "..").resolve() == REPO
    assert "--bind=tcp://0.0.0.0:5555" in coord["command"]
    assert "--http=0.0.0.0:8080" in coord["command"]
    assert any(p.endswith("5555:5555") for p in coord["ports"])
    assert any(v.startswith("data:/data") for v in coord["volumes"])
    # a worker can be scaled: nothing a second replica would collide on
    for key in ("container_name", "ports", "hostname"):
        assert key not in worker, key
    assert not any(v.startswith("data:") for v in worker.get("volumes", []))
    assert worker["depends_on"]["coordinator"]["condition"] == "service_healthy"
    assert "--role=worker" in worker["command"]
    # stopping drains: compose waits longer than the worker's drain timeout
    assert seconds(worker["stop_grace_period"]) > seconds(worker["environment"]["POPEBOT_DRAIN_TIMEOUT"])
    assert set(c["volumes"]) >= {"data", "join"}
    for mount in coord["volumes"]:
        src = mount.split(":")[0]
        if src.startswith("./"):
            assert (COMPOSE.parent / src).exists(), mount


def seconds(text):
    m = re.fullmatch(r"(\d+)(ms|s|m|h)", str(text))
    assert m, text
    return int(m.group(1)) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[m.group(2)]


def interpolate(text, env):
    """Compose's variable interpolation: ${VAR:-default}, ${VAR}, $$."""
    def sub(m):
        if m.group(0) == "$$":
            return "$"
        name, default = m.group(1), m.group(3) or ""
        return env.get(name) or default
    return re.sub(r"\$\$|\$\{(\w+)(:-([^}]*))?\}", sub, text)


class Container:
    """A compose service's entrypoint + command run as a process, with the
    image's ENV and the service's environment; container paths and service
    host names mapped by `mapping` (text replacements)."""

    def __init__(self, svc, mapping, bindir, extra_env=None):
        def m(text):
            text = interpolate(text, {})
            for a, b in mapping.items():
                text = text.replace(a, b)
            return text
        self.argv = [m(a) for a in svc["entrypoint"] + svc["command"]]
        env = {k: m(v) for k, v in image_env().items()}
        env.update({k: m(str(v)) for k, v in (svc.get("environment") or {}).items()})
        env.update(extra_env or {})
        env["PATH"] = f"{bindir}:{os.environ['PATH']}"
        self.env = clean_env(**env)


class ShellProc(Proc):
    """A Proc that runs argv as given (a compose entrypoint starts with bash)."""

    def __init__(self, name, argv, log_dir, env):
        self.name = name
        self.args = list(argv)
        self.log_path = Path(log_dir) / f"{name}.log"
        self._log = open(self.log_path, "ab")
        self.popen = subprocess.Popen(self.args, stdin=subprocess.DEVNULL, stdout=self._log,
                                      stderr=subprocess.STDOUT, env=env, start_new_session=True,
                                      preexec_fn=conftest._child_setup)
        self.pid = self.popen.pid
        conftest._ALL.append(self)


def test_compose_services_run_as_written(tmp_path):
    """The coordinator's entrypoint mints the token and becomes the
    coordinator; two workers read the token, enroll and run jobs; SIGTERM
    drains a worker."""
    c = compose()["services"]
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "popebot-node").symlink_to(os.path.abspath(BIN))
    port, http = free_port(), free_port()
    data, join = tmp_path / "data", tmp_path / "join"
    for d in (data, join):
        d.mkdir(mode=0o700)
    common = {"tcp://coordinator:5555": f"tcp://127.0.0.1:{port}",
              "tcp://0.0.0.0:5555": f"tcp://127.0.0.1:{port}",
              "0.0.0.0:8080": f"127.0.0.1:{http}",
              "/etc/popebot/roles.json": str(COMPOSE.parent / "roles.json"),
              "/join": str(join)}
    logs = tmp_path / "logs"
    logs.mkdir()
    procs = []
    try:
        co = Container(c["coordinator"], dict(common, **{"/data": str(data)}), bindir)
        coord = ShellProc("compose-coordinator", co.argv, logs, co.env)
        procs.append(coord)

        def healthy():
            assert coord.alive(), coord.log_text()
            return run_healthcheck(co.env["POPEBOT_HTTP"]).returncode == 0
        wait_for(healthy, timeout=30, desc="the compose coordinator to be healthy")
        token = (join / "token").read_text().strip()
        assert token.startswith("pbj1_")
        assert oct((join / "token").stat().st_mode & 0o777) == "0o600"

        for n in (1, 2):
            wdata = tmp_path / f"worker{n}"
            wdata.mkdir(mode=0o700)
            wo = Container(c["worker"], dict(common, **{"/data": str(wdata)}), bindir,
                           {"POPEBOT_NAME": f"replica-{n}"})   # compose: the host name
            procs.append(ShellProc(f"compose-worker{n}", wo.argv, logs, wo.env))
        cli = ["--coordinator=" + f"tcp://127.0.0.1:{port}", f"--data-dir={data}"]

        def online():
            r = run_cli(["workers", "--json"] + cli)
            ws = json.loads(r.out) if r.rc == 0 else []
            return sum(w["state"] == "online" for w in ws) == 2
        wait_for(online, timeout=60, desc="both compose workers online")
        r = run_cli(["submit", "shout", "--payload=\"compose\"", "--wait", "--timeout=60s"] + cli)
        assert r.rc == 0 and "COMPOSE" in r.out, r
        for n in (1, 2):
            assert list((tmp_path / f"worker{n}").glob("popebot-keys-*/self.key")), "no worker key"

        w = procs[1]
        w.signal(signal.SIGTERM)
        assert w.wait(timeout=seconds(c["worker"]["stop_grace_period"])) == 0
        coord.signal(signal.SIGTERM)
        assert coord.wait(timeout=seconds(c["coordinator"]["stop_grace_period"])) == 0
        reports = conftest.sanitizer_reports(procs)
        assert not reports, "\n".join(reports[:20])
    finally:
        for p in procs:
            p.cleanup()


# ---- systemd units ----------------------------------------------------------------

def unit_lines(name):
    out = {}
    for line in (UNITS / name).read_text().splitlines():
        if "=" in line and not line.startswith(("#", ";")):
            k, _, v = line.partition("=")
            out.setdefault(k.strip(), []).append(v.strip())
    return out


@pytest.mark.parametrize("unit", ["popebot-coordinator.service", "popebot-worker@.service"])
def test_systemd_unit_verifies(tmp_path, unit):
    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze is not installed (package systemd); the unit's own "
                    "settings are still checked by test_systemd_unit_settings")
    # verify wants ExecStart to exist: point it at the binary under test
    text = (UNITS / unit).read_text().replace("/usr/local/bin/popebot-node", os.path.abspath(BIN))
    path = tmp_path / unit
    path.write_text(text)
    r = subprocess.run(["systemd-analyze", "verify", "--man=no", str(path)],
                       capture_output=True, text=True, timeout=60)
    # a bad setting is only a warning on stderr, so stderr must be empty too
    assert r.returncode == 0 and r.stderr.strip() == "", r.stderr


def test_systemd_unit_settings():
    c = unit_lines("popebot-coordinator.service")
    w = unit_lines("popebot-worker@.service")
    for u in (c, w):
        assert u["ExecStart"][0].startswith("/usr/local/bin/popebot-node --role=")
        assert u["KillSignal"] == ["SIGTERM"] and u["NoNewPrivileges"] == ["yes"]
        assert u["ProtectSystem"] == ["strict"] and u["PrivateTmp"] == ["yes"]
        assert any(v.startswith("-/etc/popebot/") for v in u["EnvironmentFile"])
        assert u["User"][0] not in ("root", "0")
    assert c["User"] != w["User"], "jobs would run as the coordinator's user"
    # the worker must be able to cover its keys (mesh/hide.c) and to drain
    assert "RestrictNamespaces" not in w and "PrivateUsers" not in w
    assert "@mount" in w["SystemCallFilter"][0]
    assert w["KillMode"] == ["mixed"]
    drain = [v for v in w["Environment"] if v.startswith("POPEBOT_DRAIN_TIMEOUT=")][0]
    assert seconds(w["TimeoutStopSec"][0]) > seconds(drain.split("=")[1]) + 5   # + kill grace


# ---- backup of a live store (docs/OPERATIONS.md) ------------------------------------

def test_mdb_copy_of_a_live_store_starts_a_coordinator(mesh, tmp_path):
    if not shutil.which("mdb_copy"):
        pytest.fail("mdb_copy is missing: scripts/bootstrap installs lmdb-utils")
    mesh.start_coordinator()
    ids = [mesh.submit("echo", {"n": i}) for i in range(5)]   # queued: no workers
    key = mesh.key("read")
    data = mesh.tmp / "data"
    r = run_cli(["passwd", f"--data-dir={data}", "--user=admin"], input=b"backup-password-1\n")
    assert r.rc == 0, r
    # the recipe: both LMDB environments while the coordinator runs, plus the keys
    backup = tmp_path / "backup"
    subprocess.run(["bash", "-c", f"""set -euo pipefail; umask 077
        mkdir -p {backup}/auth
        mdb_copy {data} {backup}
        mdb_copy {data}/auth {backup}/auth
        cp -a {data}/curve {backup}/"""], check=True, timeout=60)
    assert mesh.coord.alive()

    port, http = free_port(), free_port()
    p = Proc("restored", ["--role=coordinator", f"--bind=tcp://127.0.0.1:{port}",
                          f"--http=127.0.0.1:{http}", f"--data-dir={backup}"], mesh.logs)
    mesh.procs.append(p)
    wait_for(lambda: run_healthcheck(f"127.0.0.1:{http}").returncode == 0 or
             (not p.alive() and pytest.fail(p.log_text())), timeout=30, desc="restored coordinator")
    r = run_cli(["jobs", "--json", f"--coordinator=tcp://127.0.0.1:{port}", f"--data-dir={backup}"])
    assert r.rc == 0, r
    assert {j["id"] for j in json.loads(r.out)} >= set(ids)
    import requests
    info = requests.get(f"http://127.0.0.1:{http}/api/info", headers={"x-api-key": key}, timeout=10)
    assert info.status_code == 200 and info.json()["queued"] == 5, info.text
    login = requests.post(f"http://127.0.0.1:{http}/api/login", timeout=10,
                          json={"user": "admin", "password": "backup-password-1"})
    assert login.status_code == 200, login.text
    # the same cluster: workers enrolled with the original keep working
    assert (backup / "curve" / "server.pub").read_text() == (data / "curve" / "server.pub").read_text()


def test_worker_unit_privileges_keep_the_key_cover(mesh):
    """The worker unit's NoNewPrivileges=yes and empty CapabilityBoundingSet=,
    as an unprivileged user (setpriv does what systemd would): the worker
    must still hide its keys from jobs (mesh/hide.c)."""
    w = unit_lines("popebot-worker@.service")
    assert w["NoNewPrivileges"] == ["yes"] and w["CapabilityBoundingSet"] == [""]
    if os.geteuid() != 0:
        pytest.skip("needs root to become an unprivileged user with setpriv")
    import pwd
    import tempfile
    nobody = pwd.getpwnam("nobody")
    top = Path(tempfile.mkdtemp(prefix="popebot-unit-"))
    home = top / "worker"
    mesh.start_coordinator(roles=[{"name": "peek", "command": ["ls", "-A", str(home / "keys")]}])
    try:
        top.chmod(0o755)
        home.mkdir(mode=0o700)
        os.chown(home, nobody.pw_uid, nobody.pw_gid)
        argv = ["setpriv", f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}",
                "--clear-groups", "--no-new-privs", "--bounding-set=-all", "--",
                os.path.abspath(BIN), "--role=worker", f"--coordinator={mesh.endpoint}",
                "--name=unit-1", "--roles=peek", f"--work-dir={home / 'work'}", f"--key-dir={home / 'keys'}"]
        p = ShellProc("unit-worker", argv, mesh.logs,
                      clean_env(POPEBOT_JOIN=mesh.join_token(), TMPDIR=str(home)))
        mesh.procs.append(p)
        wait_for(lambda: (mesh.worker_info("unit-1") or {}).get("state") == "online" or
                 (not p.alive() and pytest.fail(p.log_text())), timeout=30, desc="unit-1 online")
        assert "are hidden from jobs" in p.log_text(), p.log_text()
        assert (home / "keys" / "self.key").exists()
        job = mesh.wait_job(mesh.submit("peek"))          # a real job looks at the keys
        assert job["state"] == "succeeded" and job["result"] == "", job
        p.signal(signal.SIGTERM)
        assert p.wait() == 0
    finally:
        shutil.rmtree(top, ignore_errors=True)
