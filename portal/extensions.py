"""Extension objects, created unbound here and bound to the app in `create_app`."""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

from flask import current_app, g
from flask_babel import Babel, gettext
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase, Session

from portal.i18n import N_

if TYPE_CHECKING:
    from portal.services.regions import RegionDirectory

# Stable constraint names, so that Alembic can alter them on every database.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
csrf = CSRFProtect()
babel = Babel()


def client_address_key() -> str:
    """The rate-limit key of the client: an IPv4 address whole, an IPv6 address by its /64.

    One IPv6 subscriber is routinely given a whole /64 (2^64 addresses): keyed by the full
    address, each new address would be a fresh allowance.
    """
    address = get_remote_address()
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed)


limiter = Limiter(key_func=client_address_key)
login_manager = LoginManager()
login_manager.login_view = "staff.login"
# Flashed in the visitor's language when a staff page asks for a login first.
login_manager.login_message = N_("Silakan masuk terlebih dahulu.")
login_manager.localize_callback = gettext



def regions() -> RegionDirectory:
    """This process's cached view of the region tree (read through `read_session`)."""
    return current_app.extensions["region_directory"]


def read_session() -> Session:
    """The session for public reads (lookups, regions): a read replica's when one is configured
    (DATABASE_REPLICA_URL), else the request's own. Never used to write."""
    replica = current_app.extensions["replica_engine"]
    if replica is None:
        return db.session
    if "read_session" not in g:
        g.read_session = Session(replica)
    return g.read_session


def close_read_session(_error: BaseException | None = None) -> None:
    session = g.pop("read_session", None)
    if session is not None:
        session.close()
