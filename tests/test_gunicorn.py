"""The portal starts under gunicorn with its own configuration file and serves the home page."""

import os
import subprocess
import sys
import urllib.request
from pathlib import Path

from tests.production.servers import free_port, wait_for_health

ROOT = Path(__file__).resolve().parents[1]


def test_home_page_is_served_by_gunicorn(tmp_path):
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'portal.db'}",
        "PORTAL_BIND": f"127.0.0.1:{free_port()}",
        "WEB_CONCURRENCY": "2",
    }
    bin_dir = Path(sys.executable).parent
    subprocess.run([bin_dir / "flask", "--app", "wsgi", "db", "upgrade"], cwd=ROOT, env=env,
                   check=True, capture_output=True)
    log = (tmp_path / "gunicorn.log").open("w")
    server = subprocess.Popen([bin_dir / "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"], cwd=ROOT,
                              env=env, stdout=log, stderr=subprocess.STDOUT)
    port = int(env["PORTAL_BIND"].rsplit(":", 1)[1])
    try:
        # Workers may take a while to import the app on a loaded machine: wait for them, not a fixed time.
        wait_for_health(port)
        with urllib.request.urlopen(f"http://{env['PORTAL_BIND']}/", timeout=10) as response:
            body = response.read().decode()
            assert response.status == 200
        assert "Cek status penerima bansos" in body
        assert 'lang="id"' in body
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
    assert '"GET /" 200' in (tmp_path / "gunicorn.log").read_text()
