"""tests/integration/conftest.py — harness for the popebot-node integration suite.

Every test starts real `popebot-node` processes on loopback (the binary named
by $POPEBOT_BIN) and talks to them with the CLI or with a small msgpack/ZeroMQ
client written here (faster than spawning the CLI for every poll).

Rules this harness keeps, so the suite passes on a loaded 2-core machine:
- No timing assertions. Every wait is a poll until a condition holds or a
  generous deadline passes (wait_for); the deadline only bounds a failure.
- Every process started is killed on teardown, with every process left in
  its session (job process groups included), even when the test failed or
  pytest itself is killed (PR_SET_PDEATHSIG).
- When a test fails, the tail of each node's log is attached to the report.
- The mesh is secure (CURVE) unless a test sets mesh.insecure = True before
  starting it, which it does only when it must speak plaintext (a raw peer
  throwing garbage, a fake coordinator) and says why. Workers enroll with a
  join token given in POPEBOT_JOIN (never on the command line, so it stays
  out of the logs); the Python Client and the CLI use the coordinator's
  local client key from DIR/curve.
"""
import base64
import atexit
import ctypes
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import msgpack
import pytest
import zmq
import zmq.utils.z85

REPO = Path(__file__).resolve().parents[2]
PYTHON = sys.executable            # Debian's python3: also runs job probe scripts

# Short heartbeats keep fault tests fast; liveness 5 (1 s of silence) leaves
# room for scheduling hiccups of a loaded machine, so no false deaths.
HEARTBEAT = "200ms"
LIVENESS = "5"

CLIENT_COMMANDS = ("submit", "job", "jobs", "workers", "cancel", "retry", "logs", "drain", "roles")
TERMINAL = ("succeeded", "failed", "timed_out", "cancelled", "dead")


def _find_bin():
    b = os.environ.get("POPEBOT_BIN")
    if b:
        return b
    for d in ("build-it", "build"):
        p = REPO / d / "popebot-node"
        if p.exists():
            return str(p)
    return None


BIN = _find_bin()


# ---- waiting ----------------------------------------------------------------

def wait_for(cond, timeout=30.0, interval=0.1, desc="condition"):
    """Poll cond() until it returns a truthy value; return that value.

    Fails the test with desc and the last value seen when the deadline passes.
    Client timeouts inside cond count as "not yet"."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        try:
            last = cond()
        except ClientTimeout as e:
            last = e
        else:
            if last:
                return last
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {desc}; last: {last!r}")
        time.sleep(interval)


# ---- processes ----------------------------------------------------------------

_libc = ctypes.CDLL(None, use_errno=True)
_PR_SET_PDEATHSIG = 1
_ALL = []                          # every Proc started by this pytest process


def _child_setup():
    """In the child, before exec: die with pytest, and be a session leader so
    teardown can find (and kill) everything the node leaves behind."""
    _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def clean_env(**extra):
    """The environment for a node or the CLI: no POPEBOT_* leaking in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("POPEBOT_")}
    env.update({k: str(v) for k, v in extra.items()})
    return env


def session_pids(sid):
    """Processes whose session id is sid (a node and the jobs it forked)."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        # fields[0] = state, [1] = ppid, [2] = pgrp, [3] = session
        if int(fields[3]) == sid and fields[0] not in ("Z", "X"):
            out.append(int(d))
    return out


def pid_alive(pid):
    """True while pid exists and is not a zombie (PID 1 here may not reap)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2:].split()[0] not in ("Z", "X")


class Proc:
    """One popebot-node process with its output in a log file."""

    def __init__(self, name, args, log_dir, env=None):
        if not BIN or not os.path.exists(BIN):
            pytest.fail(f"popebot-node binary not found (POPEBOT_BIN={BIN!r})")
        self.name = name
        self.args = [BIN] + list(args)
        self.log_path = Path(log_dir) / f"{name}.log"
        self._log = open(self.log_path, "ab")
        self._log.write(f"==== start: {' '.join(self.args)}\n".encode())
        self._log.flush()
        self.popen = subprocess.Popen(self.args, stdin=subprocess.DEVNULL, stdout=self._log,
                                      stderr=subprocess.STDOUT, env=env or clean_env(),
                                      start_new_session=True, preexec_fn=_child_setup)
        self.pid = self.popen.pid
        _ALL.append(self)

    def alive(self):
        return self.popen.poll() is None

    def signal(self, sig):
        if self.alive():
            os.kill(self.pid, sig)

    def wait(self, timeout=30.0):
        """Exit code; fails the test if it does not exit in time."""
        try:
            return self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"{self.name} (pid {self.pid}) did not exit within {timeout:.0f}s")

    def log_text(self):
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def cleanup(self):
        """SIGKILL the node and everything left in its session; reap it."""
        for pid in session_pids(self.pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        if self.alive():
            try:
                os.kill(self.pid, signal.SIGCONT)
                os.kill(self.pid, signal.SIGKILL)
            except OSError:
                pass
        try:
            self.popen.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        if not self._log.closed:
            self._log.close()


def _kill_all():
    while _ALL:
        _ALL.pop().cleanup()


atexit.register(_kill_all)


def pytest_sessionfinish(session, exitstatus):
    _kill_all()


# ---- the client protocol, spoken directly ---------------------------------------

class ClientTimeout(Exception):
    pass


class ProtoError(Exception):
    def __init__(self, code, message):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def pack(*fields):
    return msgpack.packb(["PB", 1] + list(fields), use_bin_type=True)


def unpack(frame):
    return msgpack.unpackb(frame, raw=False, strict_map_key=False,
                           unicode_errors="surrogateescape")


def _expand(obj):
    """Job objects carry result and payload as JSON text: parse them, keep the text."""
    if not isinstance(obj, dict):
        return obj
    for key in ("result", "payload"):
        text = obj.get(key)
        obj[key + "_text"] = text
        if isinstance(text, str):
            try:
                obj[key] = json.loads(text)
            except ValueError:
                pass
    return obj


def curve_setup(sock, curve):
    """Make sock a CURVE client: curve = (server_pub, my_pub, my_secret), Z85
    bytes; None leaves it plaintext."""
    if curve:
        sock.curve_serverkey, sock.curve_publickey, sock.curve_secretkey = curve


class Client:
    """A DEALER speaking the client protocol: SUBMIT, JOB, JOBS, WORKERS, CANCEL."""

    def __init__(self, endpoint, curve=None):
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        curve_setup(self.sock, curve)
        self.sock.connect(endpoint)
        self.req = random.randrange(1 << 20, 1 << 30)
        self.results = []          # RESULT pushes (job objects), in arrival order

    def close(self):
        self.sock.close(0)
        self.ctx.term()

    def _recv(self, timeout):
        if not self.sock.poll(int(timeout * 1000)):
            return None
        return unpack(self.sock.recv())

    def call(self, cmd, *fields, timeout=10.0):
        """Send one request; return the fields after req_id of its answer."""
        self.req += 1
        req = self.req
        self.sock.send(pack(cmd, req, *fields))
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            m = self._recv(max(left, 0)) if left > 0 else None
            if m is None:
                raise ClientTimeout(f"{cmd}: no answer within {timeout}s")
            self._note(m)
            if m[2] == "ERROR" and m[3] in (req, 0):
                raise ProtoError(m[4], m[5])
            if m[2] in ("REPLY", "SUBMITTED") and m[3] == req:
                return m[4:]

    def _note(self, m):
        if m[2] == "RESULT":           # ["PB", 1, "RESULT", [job, ...]]
            body = m[3]
            for job in (body if isinstance(body, list) else [body]):
                self.results.append(_expand(job))

    def drain_results(self, timeout=0.0):
        """Collect RESULT pushes that arrive within timeout."""
        deadline = time.monotonic() + timeout
        while True:
            m = self._recv(max(deadline - time.monotonic(), 0))
            if m is None:
                return self.results
            self._note(m)

    def submit_many(self, items, wait=False, timeout=20.0):
        """items: (role, payload_text, priority, where_dict[, delay_ms, idempotency_key]).
        Returns [(id, error)]."""
        (entries,) = self.call("SUBMIT", [list(i) for i in items], wait, timeout=timeout)[:1]
        return [tuple(e) for e in entries]

    def submit(self, role, payload=None, priority=0, where=None, wait=False, raw=None):
        text = raw if raw is not None else json.dumps({} if payload is None else payload)
        ((jid, err),) = self.submit_many([(role, text, priority, where or {})], wait=wait)
        if jid is None:
            raise ProtoError("refused", err)
        return jid

    def job(self, jid):
        return _expand(self.call("JOB", jid)[0])

    def jobs(self, state=None, role=None, limit=10000):
        f = {"limit": limit}
        if state:
            f["state"] = state
        if role:
            f["role"] = role
        return [_expand(j) for j in self.call("JOBS", f)[0]]

    def workers(self, timeout=10.0):
        return self.call("WORKERS", timeout=timeout)[0]

    def cancel(self, jid):
        return _expand(self.call("CANCEL", jid)[0])


class RawPeer:
    """A bare DEALER for speaking (or mangling) the protocol by hand;
    curve as for Client."""

    def __init__(self, endpoint, curve=None):
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        curve_setup(self.sock, curve)
        self.sock.connect(endpoint)

    def send(self, *frames):
        self.sock.send_multipart(list(frames))

    def recv(self, timeout=5.0):
        """The next raw frame, or None after timeout seconds."""
        if not self.sock.poll(int(timeout * 1000)):
            return None
        return self.sock.recv()

    def recv_cmd(self, cmd, timeout=10.0):
        """Skip other messages until one with command cmd; returns it decoded or None."""
        deadline = time.monotonic() + timeout
        while True:
            frame = self.recv(max(deadline - time.monotonic(), 0))
            if frame is None:
                return None
            m = unpack(frame)
            if m[2] == cmd:
                return m

    def close(self):
        self.sock.close(0)
        self.ctx.term()


def hello(worker_id="fake", name="fake", roles=("nothing",), slots=1, labels=None,
          version="test", heartbeat_ms=1000, liveness=3, running=(), draining=False):
    """The fields of a HELLO, for pack(*hello(...))."""
    return ["HELLO", worker_id, name, list(roles), slots, labels or {}, version,
            heartbeat_ms, liveness, [list(r) for r in running], draining]


class FakeCoordinator:
    """A ROUTER that plays coordinator for one real worker, by hand.

    HELLO is answered with WELCOME (unless auto_welcome is off) and PING with
    PONG, so the worker stays connected while a test sends what it likes.
    Every other message is kept in `seen` and can be awaited with expect()."""

    def __init__(self, port, heartbeat_ms=200, liveness=5, auto_welcome=True):
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.ROUTER)
        self.sock.setsockopt(zmq.LINGER, 0)
        self.sock.bind(f"tcp://127.0.0.1:{port}")
        self.rid = None
        self.hellos = []
        self.seen = []
        self.welcome = ["WELCOME", heartbeat_ms, liveness, "fake"]
        self.auto_welcome = auto_welcome

    def close(self):
        self.sock.close(0)
        self.ctx.term()

    def send(self, *fields):
        self.sock.send_multipart([self.rid, pack(*fields)])

    def send_raw(self, *frames):
        self.sock.send_multipart([self.rid] + list(frames))

    def _pump(self, timeout):
        if not self.sock.poll(int(max(timeout, 0) * 1000)):
            return None
        rid, *frames = self.sock.recv_multipart()
        self.rid = rid
        try:
            m = unpack(frames[0])
        except Exception:
            return ("raw", frames)
        if m[2] == "PING":
            self.send("PONG")
            return ("ping", m)
        if m[2] == "HELLO":
            self.hellos.append(m)
            if self.auto_welcome:
                self.send(*self.welcome)
        return ("msg", m)

    def expect(self, cmd, timeout=30.0, where=lambda m: True):
        """The next message with command cmd (that satisfies where); fails on timeout."""
        deadline = time.monotonic() + timeout
        for i, m in enumerate(self.seen):
            if m[2] == cmd and where(m):
                return self.seen.pop(i)
        while time.monotonic() < deadline:
            got = self._pump(deadline - time.monotonic())
            if got is None or got[0] != "msg":
                continue
            m = got[1]
            if m[2] == cmd and where(m):
                return m
            self.seen.append(m)
        raise AssertionError(f"fake coordinator: no {cmd} within {timeout:.0f}s; "
                             f"seen: {[x[2] for x in self.seen]}")

    def wait_ping(self, timeout=30.0):
        """Wait for a PING: the worker is registered (READY) and alive."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self._pump(deadline - time.monotonic())
            if got and got[0] == "ping":
                return got[1]
            if got and got[0] == "msg":
                self.seen.append(got[1])
        raise AssertionError(f"fake coordinator: no PING within {timeout:.0f}s")

    def idle(self, seconds):
        """Keep answering for a while."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            got = self._pump(deadline - time.monotonic())
            if got and got[0] == "msg":
                self.seen.append(got[1])


def done_items(m):
    """{job_id: item} of a DONE message; item = [id, attempt, state, exit, result, error]."""
    return {it[0]: it for it in m[3]}


# ---- a mesh: one coordinator, some workers, a client ----------------------------

def free_port():
    """A free loopback port below the ephemeral range, so an outgoing
    connection's source port cannot take it while the coordinator restarts."""
    for _ in range(200):
        port = random.randrange(20000, 32000)
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            s.close()
    raise RuntimeError("no free port")


class CliResult:
    def __init__(self, rc, out, err, elapsed):
        self.rc, self.out, self.err, self.elapsed = rc, out, err, elapsed

    def __iter__(self):
        return iter((self.rc, self.out, self.err))

    def json(self):
        return json.loads(self.out)

    def __repr__(self):
        return f"CliResult(rc={self.rc}, out={self.out[-2000:]!r}, err={self.err[-2000:]!r})"


def decode_token(token):
    """(id, coordinator public Z85, join secret Z85, endpoint) of a join token."""
    raw = token.strip()[len("pbj1_"):]
    b = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
    return (b[:6].hex(), zmq.utils.z85.encode(b[6:38]), zmq.utils.z85.encode(b[38:70]),
            b[70:].decode())


def enroll(token, kind, node_id, timeout=10.0):
    """Enroll a fresh key pair with a join token, as a node would; returns
    (curve tuple for Client/RawPeer, the ENROLLED or ERROR message or None)."""
    _, server, join_sec, endpoint = decode_token(token)
    pub, sec = zmq.curve_keypair()
    peer = RawPeer(endpoint, curve=(server, zmq.curve_public(join_sec), join_sec))
    try:
        peer.send(pack("ENROLL", kind, pub.decode(), node_id, node_id))
        frame = peer.recv(timeout)
        return (server, pub, sec), (unpack(frame) if frame else None)
    finally:
        peer.close()


def run_cli(args, env=None, timeout=60.0, input=None):
    """Run `popebot-node ARGS` (input: bytes for its stdin, else none);
    returns CliResult (rc, stdout, stderr)."""
    if not BIN or not os.path.exists(BIN):
        pytest.fail(f"popebot-node binary not found (POPEBOT_BIN={BIN!r})")
    t0 = time.monotonic()
    try:
        p = subprocess.run([BIN] + list(args), capture_output=True, timeout=timeout,
                           env=env or clean_env(), input=input,
                           stdin=None if input is not None else subprocess.DEVNULL)
    except subprocess.TimeoutExpired as e:
        raise AssertionError(f"popebot-node {' '.join(args)} did not exit within {timeout:.0f}s") from e
    return CliResult(p.returncode, p.stdout.decode(errors="replace"),
                     p.stderr.decode(errors="replace"), time.monotonic() - t0)


class Mesh:
    """One coordinator (restartable on the same port), its workers, a client."""

    def __init__(self, tmp):
        self.tmp = Path(tmp)
        self.logs = self.tmp / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.port = None
        self.http_port = None
        self._keys = {}
        self.coord = None
        self.coord_count = 0
        self.workers = {}
        self.procs = []
        self._client = None
        self.roles_file = None
        self.fakes = []
        self.insecure = False      # set before starting: a plaintext mesh (see the header)
        self._token = None

    # -- nodes --
    @property
    def endpoint(self):
        return f"tcp://127.0.0.1:{self.port}"

    def write_roles(self, roles):
        path = self.tmp / "roles.json"
        path.write_text(json.dumps({"roles": roles}, indent=1))
        return path

    def start_coordinator(self, roles=None, extra=(), wait=True, heartbeat=HEARTBEAT,
                          liveness=LIVENESS, env=None):
        """Start (or restart, same port) the coordinator and wait until it answers;
        env: extra environment variables for it."""
        if roles is not None:
            self.roles_file = self.write_roles(roles)
        fresh = self.port is None          # a restart keeps the port the workers know
        for _ in range(5):
            if self.port is None:
                self.port = free_port()
            if self.http_port is None:
                self.http_port = free_port()
            self.coord_count += 1
            args = ["--role=coordinator", f"--bind={self.endpoint}",
                    f"--http=127.0.0.1:{self.http_port}",
                    f"--data-dir={self.tmp / 'data'}", f"--heartbeat={heartbeat}",
                    f"--liveness={liveness}", "--log-level=debug"]
            if self.roles_file:
                args.append(f"--roles-file={self.roles_file}")
            if self.insecure:
                args.append("--insecure")
            p = Proc(f"coordinator{self.coord_count}", args + list(extra), self.logs,
                     env=clean_env(**env) if env else None)
            self.procs.append(p)
            self.coord = p
            if not wait:
                return p
            try:
                self._wait_ready(p)
                return p
            except _BindFailed:        # someone else took the port meanwhile
                p.cleanup()
                if fresh and not self.workers:
                    self.port = None
                    self.http_port = None
                time.sleep(0.5)
        raise AssertionError(f"coordinator could not bind {self.endpoint}")

    def _wait_ready(self, p):
        def ready():
            if not p.alive():
                text = p.log_text()
                if "cannot bind" in text or "cannot serve HTTP" in text:
                    raise _BindFailed(text)
                raise AssertionError(f"{p.name} exited with {p.popen.returncode}:\n{text[-3000:]}")
            if not self.insecure and not (self.tmp / "data" / "curve" / "client.key").exists():
                return False                     # its keys are not written yet
            try:
                self.client.workers(timeout=1.0)
                return True
            except ClientTimeout:
                self.reset_client()
                return False
        wait_for(ready, timeout=30, interval=0.1, desc=f"{p.name} to answer")

    def start_worker(self, name, roles="echo,sleep", slots=4, labels=None, extra=(),
                     wait=True, heartbeat=HEARTBEAT, liveness=LIVENESS, env=None):
        """env: extra variables for the worker's environment (on top of the
        test's own, without POPEBOT_*)."""
        args = ["--role=worker", f"--coordinator={self.endpoint}", f"--roles={roles}",
                f"--slots={slots}", f"--name={name}", f"--heartbeat={heartbeat}",
                f"--liveness={liveness}", "--reconnect-min=100ms", "--reconnect-max=1s",
                "--kill-grace=500ms", "--drain-timeout=20s", "--log-level=debug",
                f"--work-dir={self.tmp / ('work-' + name)}"]
        if labels:
            args.append(f"--labels={labels}")
        os.makedirs(self.tmp / ("work-" + name), exist_ok=True)
        env = dict(env or {})
        if self.insecure:
            args.append("--insecure")
        else:
            # one key dir per worker id, so a restarted worker reuses its keys
            wid = next((a[5:] for a in extra if a.startswith("--id=")), name)
            args.append(f"--key-dir={self.tmp / 'keys' / wid}")
            env.setdefault("POPEBOT_JOIN", self.join_token())
        env = clean_env(TMPDIR=str(self.tmp), **env)
        p = Proc(f"worker-{name}", args + list(extra), self.logs, env=env)
        self.procs.append(p)
        self.workers[name] = p
        if wait:
            self.wait_worker(name, "online")
        return p

    def wait_worker(self, name, state="online", timeout=30):
        p = self.workers.get(name)

        def check():
            if p is not None and state != "offline" and not p.alive():
                raise AssertionError(f"worker {name} exited with {p.popen.returncode}:\n"
                                     f"{p.log_text()[-3000:]}")
            w = self.worker_info(name)
            return w if w and w["state"] == state else None
        return wait_for(check, timeout=timeout, desc=f"worker {name} to be {state}")

    def worker_info(self, name):
        for w in self.client.workers():
            if w["name"] == name or w["id"] == name:
                return w
        return None

    # -- CURVE --
    def join_token(self):
        """A join token for this mesh (made once; no expiry, any number of uses)."""
        if self._token is None:
            r = run_cli(["join-token", f"--data-dir={self.tmp / 'data'}",
                         f"--coordinator={self.endpoint}", "--ttl=0"])
            assert r.rc == 0, r
            self._token = r.out.strip().splitlines()[-1]
        return self._token

    @property
    def curve(self):
        """The local client identity (server_pub, pub, secret) for Client and
        RawPeer, or None on an insecure mesh."""
        if self.insecure:
            return None
        d = self.tmp / "data" / "curve"
        return tuple((d / f).read_text().strip().encode()
                     for f in ("server.pub", "client.pub", "client.key"))

    def new_client(self):
        """A Client of its own (the caller closes it)."""
        return Client(self.endpoint, curve=self.curve)

    def cli_flags(self):
        """The flags that give the CLI its identity on this mesh."""
        return ["--insecure"] if self.insecure else [f"--data-dir={self.tmp / 'data'}"]

    # -- HTTP --
    @property
    def url(self):
        return f"http://127.0.0.1:{self.http_port}"

    def key(self, scope="admin"):
        """An API key with these scopes (made once per scope, by the CLI)."""
        if scope not in self._keys:
            r = run_cli(["keys", "create", f"--data-dir={self.tmp / 'data'}", f"--scope={scope}"])
            assert r.rc == 0, r
            self._keys[scope] = r.out.strip().splitlines()[-1]
        return self._keys[scope]

    def http(self, method, path, key="admin", json_body=None, data=None, headers=None,
             timeout=30, **kw):
        """One HTTP request; key is a scope (a key is made for it), a raw key
        starting with "pb", or None for no credential. Returns the response."""
        import requests
        h = dict(headers or {})
        if key is not None:
            h["x-api-key"] = key if key.startswith("pb") else self.key(key)
        return requests.request(method, self.url + path, json=json_body, data=data,
                                headers=h, timeout=timeout, **kw)

    # -- client --
    @property
    def client(self):
        if self._client is None:
            self._client = Client(self.endpoint, curve=self.curve)
        return self._client

    def reset_client(self):
        if self._client is not None:
            self._client.close()
            self._client = None

    def cli(self, *args, timeout_s=None, env=None, coordinator=True):
        """Run the CLI against this mesh; returns CliResult (rc, out, err)."""
        args = list(args)
        if coordinator and not any(a.startswith("--coordinator") for a in args):
            args.append(f"--coordinator={self.endpoint}")
        if not any(a.split("=")[0] in ("--data-dir", "--join", "--insecure", "--key-dir")
                   for a in args) and args and args[0] in CLIENT_COMMANDS:
            args += self.cli_flags()
        return run_cli(args, env=env, timeout=timeout_s or 60)

    def submit(self, role, payload=None, **kw):
        return self.client.submit(role, payload, **kw)

    def job(self, jid):
        return self.client.job(jid)

    def wait_job(self, jid, states=TERMINAL, timeout=60):
        if isinstance(states, str):
            states = (states,)

        def check():
            j = self.job(jid)
            return j if j["state"] in states else None
        return wait_for(check, timeout=timeout, interval=0.05,
                        desc=f"job {jid} to be {'/'.join(states)}")

    def wait_jobs(self, ids, states=TERMINAL, timeout=60):
        """Wait until every job in ids is in one of states; returns {id: job}."""
        want = set(ids)

        def check():
            found = {j["id"]: j for j in self.client.jobs(limit=10000) if j["id"] in want}
            done = [i for i in want if i in found and found[i]["state"] in states]
            return found if len(done) == len(want) else None
        return wait_for(check, timeout=timeout, interval=0.2,
                        desc=f"{len(want)} jobs to be {'/'.join(states)}")

    def start_fake_coordinator(self, **kw):
        """A FakeCoordinator on this mesh's port, for workers to connect to."""
        if self.port is None:
            self.port = free_port()
        f = FakeCoordinator(self.port, **kw)
        self.fakes.append(f)
        return f

    # -- teardown --
    def close(self):
        self.reset_client()
        for f in self.fakes:
            f.close()
        for p in self.procs:
            p.cleanup()

    def log_report(self, tail=6000):
        out = []
        for p in self.procs:
            text = p.log_text()
            out.append(f"----- {p.name} (pid {p.pid}, rc {p.popen.returncode}) -----\n"
                       f"{text[-tail:]}")
        return "\n".join(out)


class _BindFailed(Exception):
    pass


SANITIZER_MARKS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")


def sanitizer_reports(procs):
    """Lines where a sanitizer (in a -fsanitize build) reported a bug."""
    found = []
    for p in procs:
        for line in p.log_text().splitlines():
            if any(mark in line for mark in SANITIZER_MARKS):
                found.append(f"{p.name}: {line.strip()}")
    return found


@pytest.fixture
def tls_cert(tmp_path):
    """(certificate, key) PEM files for 127.0.0.1, self-signed, made by openssl."""
    key, crt = tmp_path / "key.pem", tmp_path / "cert.pem"
    r = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", str(key), "-out",
                        str(crt), "-subj", "/CN=127.0.0.1", "-addext",
                        "subjectAltName=IP:127.0.0.1", "-days", "2"],
                       capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return crt, key


@pytest.fixture
def mesh(tmp_path, request):
    m = Mesh(tmp_path)
    request.node._popebot_mesh = m
    yield m
    m.close()
    reports = sanitizer_reports(m.procs)
    if reports:
        pytest.fail("sanitizer reports in node logs:\n" + "\n".join(reports[:20]))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    m = getattr(item, "_popebot_mesh", None)
    if m is not None and rep.failed and rep.when in ("call", "setup"):
        rep.sections.append(("popebot-node logs", m.log_report()))


class Events:
    """A minimal SSE reader over a streamed requests.Response."""

    def __init__(self, resp):
        self.resp = resp
        self.lines = resp.iter_lines(decode_unicode=True)

    def next(self):
        """The next event as (name, id or None, parsed data), or None at the end."""
        name, eid, data = "message", None, []
        for line in self.lines:
            if line == "":
                if data:
                    return name, eid, json.loads("\n".join(data))
                name, eid = "message", None
                continue
            if line.startswith(":"):
                continue
            field, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if field == "event":
                name = value
            elif field == "id":
                eid = value
            elif field == "data":
                data.append(value)
        return None

    def until(self, want):
        """Events up to and including the first named want."""
        got = []
        while True:
            ev = self.next()
            assert ev is not None, f"stream ended before a {want!r} event; got {got}"
            got.append(ev)
            if ev[0] == want:
                return got
