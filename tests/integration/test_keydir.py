"""A node's key directory is trusted only if it is private to the node's user.

The worker's default key dir sits at a predictable path beside its work dir
(in $TMPDIR), and the CLI's is $HOME/.config/popebot: someone who made such a
directory first, with their own self.key, coordinator.pub and endpoint, must
not get the node to pin their coordinator. A key dir or key file that is a
symbolic link, someone else's, or open to group/others is refused by name.
"""
import os
import stat
import threading

import zmq

from conftest import RawPeer, decode_token, free_port, run_cli


def plant(keys, dir_mode=0o700, key_mode=0o600, pub_mode=0o644):
    """A key dir as a stranger would leave it: a rogue coordinator pinned."""
    keys.mkdir(parents=True, exist_ok=True)
    pub, sec = zmq.curve_keypair()
    rogue_pub, _ = zmq.curve_keypair()
    for name, text, mode in (("self.key", sec, key_mode), ("self.pub", pub, 0o644),
                             ("coordinator.pub", rogue_pub, pub_mode),
                             ("endpoint", b"tcp://127.0.0.1:1", pub_mode)):
        (keys / name).write_bytes(text + b"\n")
        os.chmod(keys / name, mode)
    os.chmod(keys, dir_mode)
    return keys


def refused(mesh, name, needle):
    w = mesh.start_worker(name, wait=False)
    assert w.wait(30) == 1, w.log_text()
    log = w.log_text()
    assert needle in log and str(mesh.tmp / "keys" / name) in log, log
    return log


def test_new_key_dir_is_private(mesh):
    mesh.start_coordinator()
    mesh.start_worker("w1")
    keys = mesh.tmp / "keys" / "w1"
    assert stat.S_IMODE(os.lstat(keys).st_mode) == 0o700
    assert stat.S_IMODE(os.lstat(keys / "self.key").st_mode) == 0o600
    for f in ("self.pub", "coordinator.pub", "endpoint"):
        assert stat.S_IMODE(os.lstat(keys / f).st_mode) & 0o022 == 0


def test_key_dir_open_to_others_is_refused(mesh):
    mesh.start_coordinator()
    plant(mesh.tmp / "keys" / "w1", dir_mode=0o755)
    refused(mesh, "w1", "0700")


def test_key_dir_symlink_is_refused(mesh):
    mesh.start_coordinator()
    real = plant(mesh.tmp / "elsewhere")
    (mesh.tmp / "keys").mkdir(mode=0o700)
    os.symlink(real, mesh.tmp / "keys" / "w1")
    refused(mesh, "w1", "symbolic link")


def test_key_file_symlink_is_refused(mesh):
    mesh.start_coordinator()
    keys = plant(mesh.tmp / "keys" / "w1")
    rogue = mesh.tmp / "rogue.pub"
    rogue.write_bytes(zmq.curve_keypair()[0] + b"\n")
    os.unlink(keys / "coordinator.pub")
    os.symlink(rogue, keys / "coordinator.pub")
    w = mesh.start_worker("w1", wait=False)
    assert w.wait(30) == 1, w.log_text()
    assert "symbolic link" in w.log_text() and "coordinator.pub" in w.log_text()


def test_readable_secret_key_is_refused(mesh):
    mesh.start_coordinator()
    plant(mesh.tmp / "keys" / "w1", key_mode=0o644)
    refused(mesh, "w1", "self.key")


def test_writable_coordinator_key_is_refused(mesh):
    mesh.start_coordinator()
    plant(mesh.tmp / "keys" / "w1", pub_mode=0o664)
    refused(mesh, "w1", "coordinator.pub")


def test_key_dir_of_another_user_is_refused(mesh):
    if os.geteuid() != 0:
        import pytest
        pytest.skip("needs root to give a directory to another user")
    mesh.start_coordinator()
    keys = plant(mesh.tmp / "keys" / "w1")
    os.chown(keys, 65534, 65534)
    refused(mesh, "w1", "another user")


def test_cli_config_dir_open_to_others_is_refused(mesh, tmp_path):
    mesh.start_coordinator()
    home = tmp_path / "home"
    plant(home / ".config" / "popebot", dir_mode=0o777)
    r = run_cli(["workers", f"--coordinator={mesh.endpoint}"], env={"HOME": str(home)})
    assert r.rc != 0 and str(home / ".config" / "popebot") in r.err and "0700" in r.err, r


# ---- a lost ENROLLED ------------------------------------------------------------------

class LossyRelay:
    """Stands where the token says the coordinator is (with its key), passes
    each ENROLL on to the real coordinator with the token's identity, and
    answers the node with garbage instead of the first ENROLLED: the
    coordinator holds the key, the node never heard so."""

    def __init__(self, mesh, token):
        _, server, join_sec, _ = decode_token(token)
        self.ctx = zmq.Context()
        self.front = self.ctx.socket(zmq.ROUTER)
        self.front.setsockopt(zmq.LINGER, 0)
        self.front.curve_server = True
        self.front.curve_secretkey = (mesh.tmp / "data" / "curve" / "server.key").read_text().strip().encode()
        self.port = free_port()
        self.front.bind(f"tcp://127.0.0.1:{self.port}")
        self.up = (server, zmq.curve_public(join_sec), join_sec)
        self.target = mesh.endpoint
        self.lost = 0
        self.stop = False
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop:
            if not self.front.poll(100):
                continue
            rid, frame = self.front.recv_multipart()
            peer = RawPeer(self.target, curve=self.up)
            try:
                peer.send(frame)
                reply = peer.recv(10.0)
            finally:
                peer.close()
            if self.lost == 0:
                self.lost += 1
                reply = b"\xff garbage"
            self.front.send_multipart([rid, reply])

    def close(self):
        self.stop = True
        self.thread.join(5)
        self.front.close(0)
        self.ctx.term()


def relay_token(mesh, port):
    r = run_cli(["join-token", f"--data-dir={mesh.tmp / 'data'}",
                 f"--coordinator=tcp://127.0.0.1:{port}", "--ttl=0"])
    assert r.rc == 0, r
    return r.out.strip().splitlines()[-1]


def test_lost_enrolled_reply_is_retried_with_the_same_key(mesh):
    mesh.start_coordinator()
    relay = LossyRelay(mesh, mesh.join_token())
    try:
        token = relay_token(mesh, relay.port)
        w = mesh.start_worker("w1", wait=False, env={"POPEBOT_JOIN": token})
        assert w.wait(60) == 1, w.log_text()
        assert relay.lost == 1 and "unexpected answer" in w.log_text()
        keys = mesh.tmp / "keys" / "w1"
        assert (keys / "self.key").exists()           # saved before ENROLL went out
        w = mesh.start_worker("w1", wait=False, env={"POPEBOT_JOIN": ""})
        assert w.wait(30) == 1 and "never confirmed" in w.log_text(), w.log_text()
        mesh.start_worker("w1", env={"POPEBOT_JOIN": token})   # the retry: ENROLLED again
        assert not (keys / "enroll.pending").exists()
    finally:
        relay.close()
    assert mesh.wait_job(mesh.submit("echo", {}))["state"] == "succeeded"


# ---- the join token does not linger ---------------------------------------------------

def proc_text(pid, what):
    with open(f"/proc/{pid}/{what}", "rb") as f:
        return f.read()


def test_join_token_leaves_environ_and_cmdline(mesh):
    mesh.start_coordinator()
    token = mesh.join_token().encode()
    w = mesh.start_worker("by-env")                    # POPEBOT_JOIN in its environment
    assert token not in proc_text(w.popen.pid, "environ")
    w = mesh.start_worker("by-arg", env={"POPEBOT_JOIN": ""},
                          extra=[f"--join={token.decode()}"])
    cmdline = proc_text(w.popen.pid, "cmdline")
    assert token not in cmdline and b"--join=" in cmdline, cmdline
    assert token[5:25] not in cmdline
