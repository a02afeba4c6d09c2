"""The floor of the stack: a constant Flask app served by the portal's own gunicorn settings.

`http_bench.py` measures against it only while the portal has no `GET /healthz` of its own.
"""

from flask import Flask

app = Flask(__name__)


@app.get("/healthz")
def healthz() -> tuple[str, int]:
    return "ok", 200
