"""Development secrets, generated once into the instance folder.

Production never reaches this module's generator: `config.check_config` refuses to start
without explicit secrets.
"""

from __future__ import annotations

import base64
import os
import tempfile
from pathlib import Path


def _read_or_create(path: Path, make: bytes) -> str:
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    value = base64.b64encode(make).decode()
    # Written whole under a private temporary name (mode 0600), then linked into place: two
    # workers starting at once agree on the first one's value, and neither can read a
    # half-written file.
    fd, temporary = tempfile.mkstemp(dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(value)
        try:
            os.link(temporary, path)
        except FileExistsError:
            return path.read_text().strip()
    finally:
        os.unlink(temporary)
    return value


def load_development_secrets(config: dict, instance_path: str) -> None:
    """Fill SECRET_KEY and NIK_ENCRYPTION_KEY from files under instance/, creating them once."""
    folder = Path(instance_path)
    if not config.get("SECRET_KEY"):
        config["SECRET_KEY"] = _read_or_create(folder / "secret_key", os.urandom(32))
    if not config.get("NIK_ENCRYPTION_KEY"):
        config["NIK_ENCRYPTION_KEY"] = _read_or_create(folder / "nik_encryption_key", os.urandom(32))
