"""Rate limits key a client by its IPv4 address, or by the /64 of its IPv6 address."""

from __future__ import annotations

import pytest

from portal.extensions import client_address_key
from tests.conftest import limited_app


@pytest.fixture
def limited(app):
    with limited_app(app, REGION_API_LIMIT="2/minute") as limited:
        yield limited


def _status(app, address: str) -> int:
    return app.test_client().get("/api/wilayah", environ_base={"REMOTE_ADDR": address}).status_code


def test_addresses_of_one_ipv6_64_share_one_allowance(limited):
    assert [_status(limited, "2001:db8:1:2::1"), _status(limited, "2001:db8:1:2::2")] == [200, 200]
    # Another address of the same /64, as one subscriber gets by the billion: still limited.
    assert _status(limited, "2001:db8:1:2:ffff:ffff:ffff:fffe") == 429
    assert _status(limited, "2001:db8:1:3::1") == 200  # the next /64 is someone else


def test_ipv4_addresses_are_keyed_whole(limited):
    assert [_status(limited, "192.0.2.1"), _status(limited, "192.0.2.1")] == [200, 200]
    assert _status(limited, "192.0.2.1") == 429
    assert _status(limited, "192.0.2.2") == 200
    assert _status(limited, "::ffff:192.0.2.1") == 429  # the same IPv4 client, written as IPv6


@pytest.mark.parametrize(("address", "key"), [
    ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
    ("::1", "::/64"),
    ("203.0.113.9", "203.0.113.9"),
    ("not-an-address", "not-an-address"),
])
def test_client_address_key(app, address, key):
    with app.test_request_context(environ_base={"REMOTE_ADDR": address}):
        assert client_address_key() == key
