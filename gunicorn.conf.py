"""gunicorn settings; each can be overridden on the command line or with GUNICORN_CMD_ARGS."""

import multiprocessing
import os

from gunicorn.glogging import Logger

bind = os.environ.get("PORTAL_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", min(4, multiprocessing.cpu_count() * 2)))
threads = int(os.environ.get("WEB_THREADS", 2))
timeout = 30
# No runtime control socket: nothing manages the server through it, and it is one less way in.
control_socket_disable = True
# Access lines carry the path only: no query strings, which could hold a name.
accesslog = "-"
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(L)ss'


class PortalLogger(Logger):
    """gunicorn's logger without the load balancer's health checks: one line a second per host is noise."""

    def access(self, resp, req, environ, request_time):
        if environ.get("PATH_INFO") in ("/healthz", "/readyz") and resp.status_code == 200:
            return
        super().access(resp, req, environ, request_time)


logger_class = PortalLogger
