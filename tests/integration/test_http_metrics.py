"""GET /metrics: Prometheus text format 0.0.4, parsed by a small parser
here. Counters rise as jobs finish, histogram buckets are cumulative and
_count matches the jobs that finished, gauges show queues and workers, and
HTTP responses are counted by status (a 404 under code="404")."""
import re

ROLES = [
    {"name": "fail", "command": ["sh", "-c", "exit 3"], "max_attempts": 1},
    {"name": "lonely", "command": ["true"]},
]

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(,|$)')


def parse_labels(text):
    labels, pos = {}, 0
    while pos < len(text):
        m = LABEL.match(text, pos)
        assert m, f"bad labels: {text!r}"
        labels[m.group(1)] = re.sub(r'\\(.)', lambda e: {"n": "\n"}.get(e.group(1), e.group(1)),
                                    m.group(2))
        pos = m.end()
    return labels


def parse(text):
    """{family: {"type", "help", "samples": [(name, labels, value)]}}; asserts the format."""
    fams, current = {}, None
    assert text.endswith("\n")
    for line in text.splitlines():
        if line.startswith("# HELP "):
            name, _, help_ = line[7:].partition(" ")
            current = fams.setdefault(name, {"samples": []})
            current["help"] = help_
        elif line.startswith("# TYPE "):
            name, _, typ = line[7:].partition(" ")
            assert typ in ("counter", "gauge", "histogram"), line
            assert name in fams and "type" not in fams[name], line
            fams[name]["type"] = typ
        else:
            m = SAMPLE.match(line)
            assert m, f"bad sample line: {line!r}"
            name, labels, value = m.group(1), parse_labels(m.group(3) or ""), float(m.group(4))
            fam = next(f for f in fams if name == f or
                       (fams[f].get("type") == "histogram" and name in
                        (f + "_bucket", f + "_sum", f + "_count")))
            assert fam.startswith("popebot_")
            fams[fam]["samples"].append((name, labels, value))
    for name, fam in fams.items():
        assert "type" in fam and fam["help"], name
        if fam["type"] == "counter":
            assert name.endswith("_total"), name
    return fams


def value(fams, family, **labels):
    for name, lab, v in fams[family]["samples"]:
        if name == family and lab == labels:
            return v
    return None


def histogram(fams, family):
    buckets = [(s[1]["le"], s[2]) for s in fams[family]["samples"] if s[0] == family + "_bucket"]
    count = next(s[2] for s in fams[family]["samples"] if s[0] == family + "_count")
    total = next(s[2] for s in fams[family]["samples"] if s[0] == family + "_sum")
    bounds = [float(le) for le, _ in buckets[:-1]]
    assert bounds == sorted(bounds) and buckets[-1][0] == "+Inf"
    counts = [n for _, n in buckets]
    assert counts == sorted(counts), f"{family} buckets not cumulative: {counts}"
    assert counts[-1] == count and total >= 0
    return count, total


def scrape(mesh):
    r = mesh.http("GET", "/metrics", key="read")
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return parse(r.text)


def test_metrics_follow_the_jobs(mesh):
    mesh.start_coordinator(roles=ROLES)
    mesh.start_worker("w1", roles="echo,fail", slots=4)
    before = scrape(mesh)
    assert value(before, "popebot_jobs_submitted_total") == 0
    assert value(before, "popebot_workers", state="online") == 1
    assert histogram(before, "popebot_job_latency_seconds") == (0, 0)

    ok = [mesh.submit("echo") for _ in range(3)]
    bad = [mesh.submit("fail") for _ in range(2)]
    mesh.wait_jobs(ok + bad)
    waiting = [mesh.submit("lonely") for _ in range(2)]
    m = scrape(mesh)
    assert value(m, "popebot_jobs_submitted_total") == 7
    assert value(m, "popebot_jobs_finished_total", role="echo", state="succeeded") == 3
    assert value(m, "popebot_jobs_finished_total", role="fail", state="failed") == 2
    assert value(m, "popebot_jobs_finished_total", role="echo", state="failed") == 0
    assert value(m, "popebot_jobs_queued", role="lonely") == len(waiting)
    assert value(m, "popebot_jobs_queued", role="echo") == 0
    assert value(m, "popebot_jobs_running", role="echo") == 0
    assert value(m, "popebot_workers", state="offline") == 0
    count, total = histogram(m, "popebot_job_latency_seconds")
    assert count == 5                                 # every finished job, once
    dispatched, _ = histogram(m, "popebot_dispatch_latency_seconds")
    assert dispatched == 5                            # the queued ones were never assigned
    assert value(m, "popebot_malformed_frames_total") == 0
    assert value(m, "popebot_store_used_bytes") > 0

    # cancelling a queued job counts it under its role and state
    assert mesh.http("POST", f"/api/jobs/{waiting[0]}/cancel").status_code == 200
    m = scrape(mesh)
    assert value(m, "popebot_jobs_finished_total", role="lonely", state="cancelled") == 1
    assert histogram(m, "popebot_job_latency_seconds")[0] == 6


def test_http_responses_by_status(mesh):
    mesh.start_coordinator(roles=ROLES)
    m = scrape(mesh)
    before = value(m, "popebot_http_requests_total", code="404") or 0
    assert mesh.http("GET", "/api/no-such-thing").status_code == 404
    assert mesh.http("GET", "/api/jobs/0123456789abcdef").status_code == 404
    assert mesh.http("GET", "/metrics", key=None).status_code == 401
    m = scrape(mesh)
    assert value(m, "popebot_http_requests_total", code="404") == before + 2
    assert value(m, "popebot_http_requests_total", code="401") >= 1
    assert value(m, "popebot_http_requests_total", code="200") >= 1   # the first scrape
    assert mesh.http("GET", "/metrics", key="submit:*").status_code == 403


def test_parser_rejects_what_the_format_forbids():
    """The parser above is strict enough to catch a broken exposition."""
    import pytest
    good = ('# HELP popebot_x_total X.\n# TYPE popebot_x_total counter\n'
            'popebot_x_total{role="a\\"b\\\\c\\nd"} 3\n')
    fams = parse(good)
    assert fams["popebot_x_total"]["samples"][0][1] == {"role": 'a"b\\c\nd'}
    for bad in (good.replace("# TYPE popebot_x_total counter\n", ""),
                good.replace('"} 3', '} 3'),
                good.rstrip("\n")):
        with pytest.raises(Exception):
            parse(bad)
