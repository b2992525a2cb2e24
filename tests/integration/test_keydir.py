"""A node's key directory is trusted only if it is private to the node's user.

The worker's default key dir sits at a predictable path beside its work dir
(in $TMPDIR), and the CLI's is $HOME/.config/popebot: someone who made such a
directory first, with their own self.key, coordinator.pub and endpoint, must
not get the node to pin their coordinator. A key dir or key file that is a
symbolic link, someone else's, or open to group/others is refused by name.
"""
import os
import stat

import zmq

from conftest import run_cli


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
