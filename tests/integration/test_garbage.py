"""Garbage on the wire is counted and dropped; the mesh keeps running.

A raw DEALER throws undecodable frames, wrong shapes, a foreign protocol
version and absurd registrations at the coordinator; afterwards the real
worker still runs echo jobs and the coordinator is alive and counted them.
"""
import json
import random
import re
import signal
import time

import msgpack

import pytest

from conftest import RawPeer as Raw, hello, pack, unpack, wait_for


@pytest.fixture(autouse=True)
def plaintext(mesh):
    """These tests throw raw frames (many worker ids from one peer, foreign
    versions, a fake coordinator) at the decoder itself: a plaintext mesh
    lets them reach it without a key per identity. test_curve.py covers
    what a secure coordinator does with such peers."""
    mesh.insecure = True


def garbage_frames():
    rng = random.Random(1234)
    frames = [bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300))) for _ in range(40)]
    frames += [
        b"",                                             # empty frame
        msgpack.packb({"PB": 1, "cmd": "HELLO"}),        # valid msgpack, not an array
        msgpack.packb(42), msgpack.packb("PB"), msgpack.packb(None), msgpack.packb([]),
        msgpack.packb(["PB"]), msgpack.packb(["PB", 1]),
        msgpack.packb(["XX", 1, "HELLO"]),               # wrong signature
        msgpack.packb(["PB", "1", "PING"]),              # version of the wrong type
        msgpack.packb(["PB", 1, "FROBNICATE", 1, 2]),    # unknown command
        msgpack.packb(["PB", 1, 7]),                     # command not a string
        pack("HELLO", "only-two-fields", "x"),           # too few fields
        pack(*hello())[:-7],                             # truncated HELLO
        pack(*hello())[:5],
        pack(*hello()) + b"\x00trailing",                # bytes after the message
        b"\xdd\xff\xff\xff\xff",                         # array claiming 4 billion items
        b"\xdf\xff\xff\xff\xff\xa2PB",                   # map claiming 4 billion pairs
        b"\xdb\xff\xff\xff\xffPB",                       # str longer than the frame
        b"\x91" * 200 + b"\xc0",                         # nesting 200 deep
        b"\xc1",                                         # reserved byte
        pack("SUBMIT", 1, [["echo", "{}", "high", {}]], False),    # bad priority type
        pack("SUBMIT", 1, "not-a-list", False),
        pack("JOBS", 1, {"limit": -5}),
        pack("JOBS", 1, {"limit": 1 << 40}),
        pack("JOB", 1, 12345),                           # job id not a string
        pack("WELCOME", 1000, 3, "x"),                   # coordinator->worker commands
        pack("ASSIGN", []),
        pack("PONG"),
        pack("DONE", [["0123456789abcdef", 1, "succeeded", 0, "{}", None]]),  # unregistered
        pack("LOG", "0123456789abcdef", 1, 1, b"data"),
    ]
    return frames


# HELLOs with absurd values: each must be refused (or at worst accepted
# harmlessly), never crash the coordinator.
ABSURD_HELLOS = [
    hello(worker_id="a1", slots=0),
    hello(worker_id="a2", slots=2**32 - 1),
    hello(worker_id="a3", heartbeat_ms=0),
    hello(worker_id="a4", heartbeat_ms=2**32 - 1, liveness=2**32 - 1),
    hello(worker_id="a5", liveness=0),
    hello(worker_id=""),
    hello(worker_id="x" * 100000),
    hello(worker_id="bad id with spaces/and\nnewline"),
    hello(worker_id="a6", roles=()),
    hello(worker_id="a7", roles=["r%d" % i for i in range(5000)]),
    hello(worker_id="a8", roles=["bad role!"]),
    hello(worker_id="a9", labels={"": "empty-key"}),
    hello(worker_id="a10", labels={"k%d" % i: "v" * 100 for i in range(2000)}),
    hello(worker_id="a11", running=[["not-a-job-id", 7], ["0123456789abcdef", 2**32 - 1]] * 100),
    hello(worker_id="a12", name="n" * 100000, version="v" * 100000),
]


def test_garbage_is_counted_and_dropped(mesh):
    mesh.start_coordinator()
    mesh.start_worker("real", slots=4)
    c = mesh.client
    assert mesh.wait_job(c.submit("echo", {"warmup": 1}))["state"] == "succeeded"

    raw = Raw(mesh.endpoint)
    frames = garbage_frames()
    for f in frames:
        raw.send(f)
    # multipart messages: a message must be exactly one frame
    raw.send(pack("PING"), pack("PING"))
    raw.send(b"", b"", b"")
    raw.send(pack(*hello()), b"extra")

    # absurd registrations: each from a fresh connection, answered with an ERROR
    refusals = []
    for h in ABSURD_HELLOS:
        r = Raw(mesh.endpoint)
        r.send(pack(*h))
        reply = r.recv(timeout=10)
        r.close()
        refusals.append(unpack(reply) if reply else None)
    for h, rep in zip(ABSURD_HELLOS, refusals):
        assert rep is None or rep[2] in ("ERROR", "WELCOME"), (h[:4], rep)
    errors = [r for r in refusals if r and r[2] == "ERROR"]
    assert len(errors) >= 10, refusals      # most are refused outright
    for e in errors:
        assert e[3] == 0 and isinstance(e[4], str) and isinstance(e[5], str), e

    # the coordinator answers a PING from a stranger with not-registered
    r = Raw(mesh.endpoint)
    r.send(pack("PING"))
    rep = unpack(r.recv(timeout=10))
    assert rep[:3] == ["PB", 1, "ERROR"] and rep[4] == "not-registered", rep
    r.close()

    # still alive, the real worker still online, and echo jobs still run
    assert mesh.coord.alive()
    w = mesh.worker_info("real")
    assert w["state"] == "online", w
    ids = [c.submit("echo", {"after": i, "s": "x" * i}) for i in range(50)]
    done = mesh.wait_jobs(ids, timeout=60)
    for i, jid in enumerate(ids):
        j = done[jid]
        assert j["state"] == "succeeded" and j["result"] == {"after": i, "s": "x" * i}, j
    # fake registrations that were accepted serve no real role: they took nothing
    assert all(j["worker"] == "real" for j in done.values())
    raw.close()

    # the drops were counted: the coordinator reports them when it stops
    mesh.coord.signal(signal.SIGTERM)
    assert mesh.coord.wait(15) == 0
    m = re.search(r"(\d+) malformed frames dropped", mesh.coord.log_text())
    assert m, mesh.coord.log_text()[-2000:]
    assert int(m.group(1)) >= len(frames) - 5, (m.group(0), len(frames))


def test_version_2_gets_error_naming_both_versions(mesh):
    mesh.start_coordinator()
    mesh.start_worker("real", slots=1)
    raw = Raw(mesh.endpoint)
    raw.send(msgpack.packb(["PB", 2, "HELLO"]))
    reply = raw.recv(timeout=10)
    assert reply is not None, "no ERROR for a version-2 frame"
    m = unpack(reply)
    assert m[:3] == ["PB", 1, "ERROR"], m
    assert m[3] == 0 and m[4] == "version", m
    assert re.search(r"\b2\b", m[5]) and re.search(r"\b1\b", m[5]), m
    # the connection is dropped: this peer gets no more answers
    raw.send(pack("WORKERS", 5))
    assert raw.recv(timeout=1.5) is None
    raw.close()

    # a version-2 frame with a real-looking HELLO body, from another peer, same answer
    raw = Raw(mesh.endpoint)
    body = msgpack.packb(["PB", 2] + hello(worker_id="future"))
    raw.send(body)
    m = unpack(raw.recv(timeout=10))
    assert m[2] == "ERROR" and m[4] == "version", m
    raw.close()
    assert all(w["id"] != "future" for w in mesh.client.workers())

    c = mesh.client
    assert mesh.wait_job(c.submit("echo", {"v": 1}))["result"] == {"v": 1}
    assert mesh.coord.alive()


def test_fake_worker_stale_reports_are_ignored(mesh):
    """A registered peer that reports jobs it was never given changes nothing."""
    mesh.start_coordinator()
    mesh.start_worker("real", slots=2)
    c = mesh.client
    jid = c.submit("sleep", {"ms": 1500})
    wait_for(lambda: c.job(jid)["state"] == "running", timeout=30, desc="job running")

    fake = Raw(mesh.endpoint)
    fake.send(pack(*hello(worker_id="faker", roles=["nothing"], heartbeat_ms=200)))
    m = unpack(fake.recv(timeout=10))
    assert m[2] == "WELCOME", m
    # claims the real worker's job, at its attempt and a future one
    fake.send(pack("DONE", [[jid, 1, "failed", 9, None, "forged"],
                            [jid, 2, "succeeded", 0, '"forged"', None]]))
    fake.send(pack("LOG", jid, 1, 1, b"forged output"))
    fake.send(pack("DONE", [[jid, 1, "weird-state", None, "{", None]]))
    fake.send(pack("BYE"))
    time.sleep(0.3)
    j = mesh.wait_job(jid, timeout=30)
    assert j["state"] == "succeeded" and j["result"] == {"slept_ms": 1500}, j
    assert j["worker"] == "real" and j["attempts"] == 1, j
    assert "forged" not in c.job(jid)["log"]
    fake.close()
    assert mesh.coord.alive()


def lease(jid, role="echo", payload="{}", command=(), shell=False, env=None, timeout_ms=0,
          attempt=1):
    return [jid, attempt, role, payload, list(command), shell, env or {}, timeout_ms]


def test_worker_survives_garbage_from_its_coordinator(mesh):
    """The other direction: a coordinator that sends nonsense does not crash a
    worker; every lease gets exactly one answer; real work still runs."""
    fake = mesh.start_fake_coordinator()
    w = mesh.start_worker("gw", roles="echo,sleep", slots=2, wait=False)
    fake.expect("HELLO")
    fake.idle(0.3)

    for f in garbage_frames()[:45]:
        fake.send_raw(f)
    fake.send_raw(pack("PONG"), pack("PONG"))                  # multipart
    fake.send_raw(msgpack.packb(["PB", 2, "ASSIGN", []]))       # a future version
    fake.send("ASSIGN", "not-a-list")
    fake.send("ASSIGN", [[1, 2, 3]])
    fake.send("REVOKE", "ffffffffffffffff", 3)                  # unknown lease
    fake.send("SUBMITTED", 1, [])                               # client-side commands
    fake.send("RESULT", [])

    answered = {}

    def wait_done(ids, timeout=30):
        deadline = time.monotonic() + timeout
        while not set(ids) <= set(answered):
            left = deadline - time.monotonic()
            assert left > 0, (f"no DONE for {set(ids) - set(answered)}", w.log_text()[-3000:])
            m = fake.expect("DONE", timeout=left)
            for it in m[3]:
                answered.setdefault(it[0], []).append(it)
        return answered

    # a role it does not serve, and absurd but well-formed leases
    odd = ["00000000000000b1", "x" * 5000, "", "00000000000000b5", "00000000000000b6",
           "00000000000000b7"]
    fake.send("ASSIGN", [lease(odd[0], role="unserved"), lease(odd[1]), lease(odd[2]),
                         lease(odd[3], attempt=0), lease(odd[4], payload="{not json"),
                         lease(odd[5], role="sleep", payload='{"ms": 10}',
                               command=["/bin/true"] * 5000, timeout_ms=2**32 - 1)])
    wait_done(odd)
    assert answered[odd[0]][0][2] == "rejected", answered[odd[0]]
    assert all(len(answered[j]) == 1 for j in odd), answered
    assert w.alive(), w.log_text()[-3000:]

    # two slots: the same job twice, and more leases than slots
    sl = '{"ms": 1000}'
    fake.send("ASSIGN", [lease("00000000000000c2", role="sleep", payload=sl),
                         lease("00000000000000c2", role="sleep", payload=sl),
                         lease("00000000000000c3", role="sleep", payload=sl),
                         lease("00000000000000c4", role="sleep", payload=sl)])
    wait_done(["00000000000000c2", "00000000000000c3", "00000000000000c4"])
    deadline = time.monotonic() + 30
    while len(answered["00000000000000c2"]) < 2 and time.monotonic() < deadline:
        for it in fake.expect("DONE", timeout=deadline - time.monotonic())[3]:
            answered.setdefault(it[0], []).append(it)
    states = sorted(it[2] for it in answered["00000000000000c2"])
    assert states == ["rejected", "succeeded"], answered["00000000000000c2"]
    assert answered["00000000000000c3"][0][2] == "succeeded", answered
    assert answered["00000000000000c4"][0][2] == "rejected", answered

    # still a worker: a valid lease runs and reports its result
    payload = '{"still": "alive", "n": [1, 2, 3]}'
    fake.send("ASSIGN", [lease("00000000000000d1", payload=payload)])
    item = wait_done(["00000000000000d1"])["00000000000000d1"][0]
    assert item[2] == "succeeded" and json.loads(item[4]) == json.loads(payload), item

    # an ERROR from its coordinator: it reconnects and registers again
    n = len(fake.hellos)
    fake.send("ERROR", 0, "weird", "an error that means nothing")
    fake.expect("HELLO")
    assert len(fake.hellos) == n + 1
    fake.wait_ping()                         # welcomed again, and quiet: it pings
    assert w.alive()
    w.signal(signal.SIGTERM)
    fake.expect("BYE")
    assert w.wait(30) == 0


def test_submit_batch_refuses_bad_entries_only(mesh):
    """Each entry of a SUBMIT is judged on its own: a payload that is not JSON
    or an unknown role is refused, the valid entries of the batch still run."""
    mesh.start_coordinator()
    mesh.start_worker("real", slots=2)
    c = mesh.client
    items = [("echo", '{"ok": 1}', 0, {}),
             ("echo", "{not json", 0, {}),
             ("echo", "", 0, {}),
             ("nope", "{}", 0, {}),
             ("echo", '[1, 2', 0, {}),
             ("echo", '"just a string"', 0, {}),
             ("echo", "{} trailing", 0, {}),
             ("echo", '{"ok": 2}', 5, {"": "empty-key"}),
             ("echo", '{"ok": 3}', -7, {})]
    answers = c.submit_many(items)
    assert len(answers) == len(items), answers
    accepted = {i for i, (jid, err) in enumerate(answers) if jid is not None}
    assert accepted == {0, 5, 8}, answers
    for i, (jid, err) in enumerate(answers):
        if i in accepted:
            assert err is None, answers[i]
        else:
            assert isinstance(err, str) and err, answers[i]
    assert "nope" in answers[3][1]
    done = mesh.wait_jobs([answers[i][0] for i in accepted])
    results = sorted(json.dumps(j["result"]) for j in done.values())
    assert results == sorted(['{"ok": 1}', '"just a string"', '{"ok": 3}']), results
    assert len(c.jobs()) == 3                      # refused entries left no job behind
