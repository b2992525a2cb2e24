"""HTTPS on the HTTP port with --tls-cert/--tls-key: the API answers over
TLS (verified against the test's own certificate) with HSTS, plain HTTP
is not served there, the combined key file is private, and bad or missing
key material stops the coordinator with a reason."""
import os
import stat

import pytest
import requests

from conftest import run_cli


def test_the_api_over_https(mesh, tls_cert):
    crt, key = tls_cert
    mesh.start_coordinator(extra=[f"--tls-cert={crt}", f"--tls-key={key}"])
    mesh.start_worker("w1")
    base = f"https://127.0.0.1:{mesh.http_port}"
    r = requests.get(base + "/healthz", verify=str(crt), timeout=10)
    assert r.status_code == 200 and r.json() == {"status": "ok"}
    assert r.headers["Strict-Transport-Security"].startswith("max-age=")
    r = requests.post(base + "/api/jobs", json={"role": "echo", "payload": {"tls": 1}},
                      headers={"x-api-key": mesh.key("admin")}, verify=str(crt), timeout=10)
    assert r.status_code == 202, r.text
    assert mesh.wait_job(r.json()["id"])["state"] == "succeeded"
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(f"http://127.0.0.1:{mesh.http_port}/healthz", timeout=5)
    pem = mesh.tmp / "data" / "tls.pem"
    assert stat.S_IMODE(os.stat(pem).st_mode) == 0o600
    assert "HTTP API on https://" in mesh.coord.log_text()


def test_bad_key_material_stops_the_coordinator(mesh, tls_cert, tmp_path):
    crt, key = tls_cert
    p = mesh.start_coordinator(extra=[f"--tls-cert={tmp_path / 'missing.pem'}",
                                      f"--tls-key={key}"], wait=False)
    assert p.wait(30) == 1
    assert "--tls-cert" in p.log_text() and "missing.pem" in p.log_text()
    mesh.port = mesh.http_port = None
    p = mesh.start_coordinator(extra=[f"--tls-cert={key}", f"--tls-key={key}"], wait=False)
    assert p.wait(30) == 1
    assert "holds no PEM certificate" in p.log_text()
    r = run_cli(["--role=coordinator", f"--tls-cert={crt}", f"--data-dir={tmp_path / 'x'}"])
    assert r.rc == 2 and "--tls-cert and --tls-key go together" in r.err
