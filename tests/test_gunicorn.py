"""The portal starts under gunicorn with its own configuration file and serves the home page."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_home_page_is_served_by_gunicorn(tmp_path):
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'portal.db'}",
        "PORTAL_BIND": f"127.0.0.1:{_free_port()}",
        "WEB_CONCURRENCY": "2",
    }
    bin_dir = Path(sys.executable).parent
    subprocess.run([bin_dir / "flask", "--app", "wsgi", "db", "upgrade"], cwd=ROOT, env=env,
                   check=True, capture_output=True)
    log = (tmp_path / "gunicorn.log").open("w")
    server = subprocess.Popen([bin_dir / "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"], cwd=ROOT,
                              env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://{env['PORTAL_BIND']}/"
    try:
        body = ""
        for _ in range(100):
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    body = response.read().decode()
                    assert response.status == 200
                    break
            except OSError:
                time.sleep(0.1)
        assert "Cek status penerima bansos" in body
        assert 'lang="id"' in body
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
    assert '"GET /" 200' in (tmp_path / "gunicorn.log").read_text()
