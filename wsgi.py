"""Entry point for gunicorn (`wsgi:app`) and the `flask --app wsgi` command line."""

from portal import create_app

app = create_app()
