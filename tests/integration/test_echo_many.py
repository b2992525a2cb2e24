"""1000 echo jobs over 3 workers: each runs exactly once and returns its payload."""
import collections
import json

from conftest import wait_for

N = 1000
BATCH = 100


def payload(i):
    # distinct, and with text that must survive the trip byte for byte
    return {"i": i, "s": f"job-{i} \u00fc\u2603 \"q\" \\ \t\n", "nested": {"k": [i, i * 2, None]},
            "big": i * 1_000_003, "f": i / 8}


def test_thousand_echo_jobs(mesh):
    mesh.start_coordinator()
    names = ["a", "b", "c"]
    for n in names:
        mesh.start_worker(n, slots=4)

    c = mesh.client
    expected = {}
    for start in range(0, N, BATCH):
        items = [("echo", json.dumps(payload(i), ensure_ascii=False), 0, {})
                 for i in range(start, min(start + BATCH, N))]
        answers = c.submit_many(items, wait=True)
        assert len(answers) == len(items)
        for k, (jid, err) in enumerate(answers):
            assert jid is not None and err is None, (jid, err)
            assert jid not in expected, f"duplicate job id {jid}"
            expected[jid] = start + k
    assert len(expected) == N

    found = mesh.wait_jobs(expected, timeout=120)

    per_worker = collections.Counter()
    for jid, i in expected.items():
        j = found[jid]
        assert j["state"] == "succeeded", j
        assert j["attempts"] == 1, j
        assert j["role"] == "echo", j
        assert j["payload"] == payload(i), j
        assert j["result"] == payload(i), j
        assert j["error"] is None and j["exit_code"] is None, j
        assert j["worker"] in names, j
        per_worker[j["worker"]] += 1
    assert sum(per_worker.values()) == N
    # every worker took a real share of the work
    for n in names:
        assert per_worker[n] >= 20, per_worker

    # submitted with wait: one RESULT push per job, never two
    results = c.drain_results(timeout=0.5)

    def pushed():
        counts = collections.Counter(r["id"] for r in c.drain_results(timeout=0.2))
        return counts if len(counts) >= N else None
    counts = wait_for(pushed, timeout=30, desc="a RESULT push for every job")
    assert set(counts) == set(expected), set(counts) ^ set(expected)
    dup = {k: v for k, v in counts.items() if v != 1}
    assert not dup, f"jobs whose RESULT was pushed more than once: {dup}"
    for r in results:
        assert r["state"] == "succeeded" and r["result"] == payload(expected[r["id"]]), r

    # the workers still report nothing running
    for w in c.workers():
        assert w["state"] == "online" and w["running"] == 0, w
