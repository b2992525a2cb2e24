"""CURVE on the mesh socket: who a secure coordinator admits, and what for.

A secure coordinator (the default) admits only CURVE peers whose public key
was enrolled (with a join token) or is its own local client key, and the key
decides what a peer may say. Workers pin the coordinator's key, so a rogue
coordinator gets nothing. --insecure is the only way to plaintext, and says so.
"""
import base64
import shutil
import signal
import time

import zmq

from conftest import (RawPeer, decode_token, enroll, hello, pack, run_cli, unpack, wait_for,
                      free_port)

QUIET = 2.0                 # how long a refused peer is given to get an answer anyway


def workers_request(peer):
    peer.send(pack("WORKERS", 7))
    frame = peer.recv(QUIET)
    return unpack(frame) if frame else None


def test_plaintext_peer_is_refused(mesh):
    mesh.start_coordinator()
    plain = RawPeer(mesh.endpoint)
    try:
        assert workers_request(plain) is None
    finally:
        plain.close()
    assert mesh.client.workers() == []          # the coordinator is fine


def test_unknown_curve_key_is_refused(mesh):
    mesh.start_coordinator()
    server = mesh.curve[0]
    pub, sec = zmq.curve_keypair()
    stranger = RawPeer(mesh.endpoint, curve=(server, pub, sec))
    try:
        assert workers_request(stranger) is None
    finally:
        stranger.close()
    wait_for(lambda: "refused a CURVE peer" in mesh.coord.log_text(), desc="the refusal logged")


def test_key_decides_what_a_peer_may_say(mesh):
    mesh.start_coordinator()
    client = RawPeer(mesh.endpoint, curve=mesh.curve)
    try:   # a client key cannot pose as a worker
        client.send(pack(*hello(worker_id="poser", roles=["echo"])))
        m = client.recv_cmd("ERROR")
        assert m and m[4] == "forbidden", m
    finally:
        client.close()
    _, server, join_sec, _ = decode_token(mesh.join_token())
    joiner = RawPeer(mesh.endpoint, curve=(server, zmq.curve_public(join_sec), join_sec))
    try:   # a join identity may only enroll
        m = workers_request(joiner)
        assert m and m[2] == "ERROR" and m[4] == "forbidden", m
    finally:
        joiner.close()
    keys, m = enroll(mesh.join_token(), "worker", "honest")
    assert m and m[2] == "ENROLLED" and m[3] == "w:honest", m
    peer = RawPeer(mesh.endpoint, curve=keys)
    try:   # a worker key registers only its own id
        peer.send(pack(*hello(worker_id="someone-else", roles=["echo"])))
        m = peer.recv_cmd("ERROR")
        assert m and m[4] == "forbidden", m
        peer.send(pack(*hello(worker_id="honest", roles=["echo"])))
        assert peer.recv_cmd("WELCOME") is not None
    finally:
        peer.close()


def forged(token):
    """The same token with another join secret: right shape, wrong key."""
    raw = token[len("pbj1_"):]
    b = bytearray(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    b[38:70] = zmq.utils.z85.decode(zmq.curve_keypair()[1])
    return "pbj1_" + base64.urlsafe_b64encode(bytes(b)).decode().rstrip("=")


def new_token(mesh, *flags):
    r = run_cli(["join-token", f"--data-dir={mesh.tmp / 'data'}",
                 f"--coordinator={mesh.endpoint}", *flags])
    assert r.rc == 0, r
    return r.out.strip().splitlines()[-1]


def test_bad_tokens_are_refused(mesh):
    mesh.start_coordinator()
    assert enroll(forged(mesh.join_token()), "worker", "f1", timeout=QUIET)[1] is None
    assert enroll(new_token(mesh, "--ttl=1ms"), "worker", "f2", timeout=QUIET)[1] is None
    once = new_token(mesh, "--uses=1")
    assert enroll(once, "worker", "f3")[1][2] == "ENROLLED"
    assert enroll(once, "worker", "f4", timeout=QUIET)[1] is None        # used up
    revoked = new_token(mesh)
    tid = decode_token(revoked)[0]
    r = run_cli(["join-token", f"--data-dir={mesh.tmp / 'data'}", f"--revoke={tid}"])
    assert r.rc == 0, r
    assert enroll(revoked, "worker", "f5", timeout=QUIET)[1] is None
    listed = run_cli(["join-token", "--list", "--json", f"--data-dir={mesh.tmp / 'data'}"])
    assert listed.rc == 0 and tid not in listed.out and "pbj1_" not in listed.out, listed
    # a worker with a forged token says why and stops
    w = mesh.start_worker("forger", wait=False, env={"POPEBOT_JOIN": forged(mesh.join_token())})
    assert w.wait(60) == 1
    assert "enrollment" in w.log_text()


def test_enrolled_worker_serves_jobs_and_needs_no_token_again(mesh):
    mesh.start_coordinator()
    w = mesh.start_worker("w1")
    assert mesh.wait_job(mesh.submit("echo", {"n": 1}))["state"] == "succeeded"
    w.signal(signal.SIGTERM)
    assert w.wait() == 0
    tid = decode_token(mesh.join_token())[0]
    assert run_cli(["join-token", f"--data-dir={mesh.tmp / 'data'}", f"--revoke={tid}"]).rc == 0
    mesh.start_worker("w1", env={"POPEBOT_JOIN": ""})     # its stored keys are enough
    assert mesh.wait_job(mesh.submit("echo", {"n": 2}))["state"] == "succeeded"


def test_deleted_worker_is_cut_off_and_refused(mesh):
    mesh.start_coordinator()
    w = mesh.start_worker("gone")
    assert mesh.http("DELETE", "/api/clusters/gone").status_code == 204
    wait_for(lambda: "deleted" in w.log_text(), desc="the worker told it was deleted")
    keys = mesh.tmp / "keys" / "gone"
    curve = tuple((keys / f).read_text().strip().encode()
                  for f in ("coordinator.pub", "self.pub", "self.key"))
    w.cleanup()
    again = RawPeer(mesh.endpoint, curve=curve)
    try:
        again.send(pack(*hello(worker_id="gone", roles=["echo"])))
        assert again.recv(QUIET) is None
    finally:
        again.close()
    assert mesh.worker_info("gone") is None


def test_worker_refuses_a_rogue_coordinator(mesh):
    mesh.start_coordinator()
    w = mesh.start_worker("loyal")
    w.signal(signal.SIGTERM)
    assert w.wait() == 0
    ctx = zmq.Context()
    rogue = ctx.socket(zmq.ROUTER)
    rogue.setsockopt(zmq.LINGER, 0)
    rpub, rsec = zmq.curve_keypair()
    rogue.curve_server, rogue.curve_secretkey = True, rsec
    port = free_port()
    rogue.bind(f"tcp://127.0.0.1:{port}")
    try:
        mesh.start_worker("loyal", wait=False, extra=[f"--coordinator=tcp://127.0.0.1:{port}"])
        assert not rogue.poll(int(QUIET * 1000) * 2), "the worker talked to a rogue coordinator"
        # control: the rogue does accept a peer that pins its key
        fan = RawPeer(f"tcp://127.0.0.1:{port}", curve=(rpub,) + zmq.curve_keypair())
        fan.send(pack("PING"))
        assert rogue.poll(10000)
        fan.close()
    finally:
        rogue.close(0)
        ctx.term()


def test_cli_with_data_dir_and_with_join(mesh, tmp_path):
    mesh.start_coordinator()
    mesh.start_worker("w1")
    r = mesh.cli("workers", "--json")                # the harness adds --data-dir
    assert r.rc == 0 and '"w1"' in r.out, r
    keys = tmp_path / "cli-keys"
    r = run_cli(["workers", "--json", f"--join={mesh.join_token()}", f"--key-dir={keys}"])
    assert r.rc == 0 and '"w1"' in r.out, r          # endpoint from the token
    r = run_cli(["submit", "echo", "--payload={\"x\":1}", "--wait", f"--key-dir={keys}"])
    assert r.rc == 0 and r.out.strip() == '{"x":1}', r
    r = run_cli(["workers", f"--key-dir={tmp_path / 'none'}", f"--coordinator={mesh.endpoint}",
                 "--data-dir=/nonexistent"])
    assert r.rc == 2 and "--join" in r.err, r


def test_insecure_says_so(mesh):
    mesh.insecure = True
    mesh.start_coordinator()
    w = mesh.start_worker("plain")
    assert "PLAINTEXT" in mesh.coord.log_text() and "PLAINTEXT" in w.log_text()
    assert mesh.wait_job(mesh.submit("echo", {}))["state"] == "succeeded"


def test_no_secret_in_logs(mesh):
    mesh.start_coordinator()
    w = mesh.start_worker("w1")
    assert mesh.wait_job(mesh.submit("echo", {}))["state"] == "succeeded"
    token = mesh.join_token()
    secrets = [token, token[5:], decode_token(token)[2].decode()]
    for d, f in (("data/curve", "server.key"), ("data/curve", "client.key"),
                 ("keys/w1", "self.key")):
        secrets.append((mesh.tmp / d / f).read_text().strip())
    w.signal(signal.SIGTERM)
    w.wait()
    text = "".join(p.log_text() for p in mesh.procs)
    assert "CURVE on" in text
    for s in secrets:
        assert s not in text


def test_a_token_cannot_enroll_its_own_key(mesh):
    """Enrolled, the token's own key would turn the token text into a login
    that no expiry, use count or revoke could end."""
    mesh.start_coordinator()
    token = mesh.join_token()
    _, server, join_sec, _ = decode_token(token)
    join_pub = zmq.curve_public(join_sec)
    joiner = RawPeer(mesh.endpoint, curve=(server, join_pub, join_sec))
    try:
        joiner.send(pack("ENROLL", "client", join_pub.decode(), "sneaky", "sneaky"))
        m = unpack(joiner.recv(10))
        assert m[2] == "ERROR" and m[4] == "forbidden", m
    finally:
        joiner.close()
    keys, m = enroll(token, "client", "honest-cli")      # the token still works as meant
    assert m and m[2] == "ENROLLED", m
def joiner_for(token):
    """A RawPeer holding a join token's own key (what ENROLL needs)."""
    _, server, join_sec, endpoint = decode_token(token)
    return RawPeer(endpoint, curve=(server, zmq.curve_public(join_sec), join_sec))


def test_token_key_cannot_be_enrolled(mesh):
    mesh.start_coordinator()
    token = new_token(mesh)
    join_pub = zmq.curve_public(decode_token(token)[2]).decode()
    joiner = joiner_for(token)
    try:   # the token's key as a client: its text would be a login forever
        joiner.send(pack("ENROLL", "client", join_pub, "sneaky", "sneaky"))
        m = joiner.recv_cmd("ERROR")
        assert m and m[4] == "forbidden", m
    finally:
        joiner.close()
    tid = decode_token(token)[0]
    assert run_cli(["join-token", f"--data-dir={mesh.tmp / 'data'}", f"--revoke={tid}"]).rc == 0
    again = joiner_for(token)
    try:   # a revoked token's key is refused, whatever was tried with it
        assert workers_request(again) is None
    finally:
        again.close()


def dealer_as(mesh, curve, routing_id):
    """A RawPeer that chooses its own ZeroMQ routing id."""
    peer = RawPeer.__new__(RawPeer)
    peer.ctx = zmq.Context()
    peer.sock = peer.ctx.socket(zmq.DEALER)
    peer.sock.setsockopt(zmq.LINGER, 0)
    peer.sock.setsockopt(zmq.ROUTING_ID, routing_id)
    peer.sock.curve_serverkey, peer.sock.curve_publickey, peer.sock.curve_secretkey = curve
    peer.sock.connect(mesh.endpoint)
    return peer


def test_worker_messages_need_the_registrations_key(mesh):
    mesh.start_coordinator()
    alpha, _ = enroll(mesh.join_token(), "worker", "alpha")
    beta, _ = enroll(mesh.join_token(), "worker", "beta")
    a = dealer_as(mesh, alpha, b"shared-rid")
    try:
        a.send(pack(*hello(worker_id="alpha", roles=["echo"], heartbeat_ms=5000)))
        assert a.recv_cmd("WELCOME") is not None
    finally:
        a.close()
    time.sleep(0.5)                       # the coordinator sees the connection go
    b = dealer_as(mesh, beta, b"shared-rid")
    try:   # beta's key on the connection alpha registered: no say for alpha
        b.send(pack("BYE"))
        m = b.recv_cmd("ERROR")
        assert m and m[4] == "forbidden", m
        b.send(pack("PING", 5))
        m = b.recv(QUIET)
        assert m and unpack(m)[2] == "ERROR", m
    finally:
        b.close()
    assert mesh.worker_info("alpha")["state"] == "online"


def test_deleted_key_stays_refused_when_the_id_comes_back(mesh):
    mesh.start_coordinator()
    keys, _ = enroll(mesh.join_token(), "worker", "phoenix")
    old = RawPeer(mesh.endpoint, curve=keys)
    try:
        old.send(pack(*hello(worker_id="phoenix", roles=["echo"], heartbeat_ms=5000)))
        assert old.recv_cmd("WELCOME") is not None
        assert mesh.http("DELETE", "/api/clusters/phoenix").status_code == 204
        r = mesh.http("POST", "/api/clusters", json_body={"id": "phoenix", "name": "p",
                                                          "roles": ["echo"], "slots": 1})
        assert r.status_code == 201, r.text
        # the deleted registration's still-open connection
        old.send(pack(*hello(worker_id="phoenix", roles=["echo"], heartbeat_ms=5000)))
        m = old.recv_cmd("ERROR")
        assert m and m[4] == "deleted", m
        assert old.recv_cmd("WELCOME", timeout=QUIET) is None
    finally:
        old.close()
    # and the same key cannot be enrolled again, even after a restart
    mesh.coord.signal(signal.SIGTERM)
    assert mesh.coord.wait() == 0
    mesh.start_coordinator()
    mesh.reset_client()
    joiner = joiner_for(mesh.join_token())
    try:
        joiner.send(pack("ENROLL", "worker", keys[1].decode(), "phoenix2", "phoenix2"))
        m = joiner.recv_cmd("ERROR")
        assert m and m[4] == "deleted", m
    finally:
        joiner.close()


def test_refused_enrollment_spends_no_use(mesh):
    mesh.start_coordinator()
    once = new_token(mesh, "--uses=1")
    keys, m = enroll(mesh.join_token(), "worker", "taken")
    assert m[2] == "ENROLLED", m
    _, m = enroll(once, "worker", "taken")            # the id has another key
    assert m and m[2] == "ERROR" and m[4] == "conflict", m
    _, m = enroll(once, "worker", "fresh")            # the one use is still there
    assert m and m[2] == "ENROLLED", m
    _, m = enroll(once, "worker", "third", timeout=QUIET)
    assert m is None


def test_old_local_client_key_is_dropped(mesh):
    mesh.start_coordinator()
    old = mesh.curve
    assert workers_request(RawPeerClosing(mesh.endpoint, old)) is not None
    mesh.reset_client()
    mesh.coord.signal(signal.SIGTERM)
    assert mesh.coord.wait() == 0
    for f in ("client.key", "client.pub"):
        (mesh.tmp / "data" / "curve" / f).unlink()
    mesh.start_coordinator()
    assert mesh.curve != old
    assert mesh.client.workers() == []                # the new key works
    assert workers_request(RawPeerClosing(mesh.endpoint, old)) is None


class RawPeerClosing(RawPeer):
    """A RawPeer that closes itself after its first recv."""

    def __init__(self, endpoint, curve):
        super().__init__(endpoint, curve=curve)

    def recv(self, timeout=5.0):
        try:
            return super().recv(timeout)
        finally:
            self.close()


def test_refused_handshakes_are_logged_at_a_rate(mesh):
    mesh.start_coordinator()
    server = mesh.curve[0]
    strangers = [RawPeer(mesh.endpoint, curve=(server,) + zmq.curve_keypair())
                 for _ in range(30)]
    try:   # each handshake (and each retry of it) is refused
        wait_for(lambda: "refused a CURVE peer" in mesh.coord.log_text(), desc="a refusal")
        time.sleep(1.5)
    finally:
        for s in strangers:
            s.close()
    lines = [l for l in mesh.coord.log_text().splitlines() if "refused a CURVE peer" in l]
    assert 1 <= len(lines) <= 5, lines
    assert "refused since the last" in lines[-1]
