"""Error pages: Bahasa Indonesia, the right status, never a stack trace."""

from sqlalchemy.exc import OperationalError

from config import TestConfig
from portal import create_app


def test_home_page(client):
    response = client.get("/")
    assert response.status_code == 200
    assert "Cek status penerima bansos" in response.text


def test_unknown_page_is_a_friendly_404(client):
    response = client.get("/tidak-ada")
    assert response.status_code == 404
    assert "Halaman tidak ditemukan" in response.text


def test_unexpected_error_is_a_500_without_a_trace(app):
    @app.get("/meledak")
    def explode():
        raise RuntimeError("secret detail 3204054103850001")

    response = app.test_client().get("/meledak")
    assert response.status_code == 500
    assert "Terjadi kesalahan pada sistem" in response.text
    assert "Traceback" not in response.text and "3204054103850001" not in response.text


def test_database_failure_inside_a_view_is_a_503(app):
    @app.get("/db-putus")
    def database_gone():
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    response = app.test_client().get("/db-putus")
    assert response.status_code == 503
    assert "Layanan sedang gangguan" in response.text


def test_unreachable_database_is_a_503(tmp_path):
    class Unreachable(TestConfig):
        # Nothing listens on port 9 of this machine: the connection is refused at once.
        SQLALCHEMY_DATABASE_URI = "postgresql+psycopg://postgres@127.0.0.1:9/none?connect_timeout=2"

    response = create_app(Unreachable).test_client().get("/")
    assert response.status_code == 503
    assert "Layanan sedang gangguan" in response.text
    assert "Traceback" not in response.text
