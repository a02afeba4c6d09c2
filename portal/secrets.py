"""Development secrets, generated once into the instance folder.

Production never reaches this module's generator: `config.check_config` refuses to start
without explicit secrets.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path


def _read_or_create(path: Path, make: bytes) -> str:
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    # O_EXCL: two workers starting at once agree on the first one's value.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as f:
        f.write(base64.b64encode(make).decode())
    return path.read_text().strip()


def load_development_secrets(config: dict, instance_path: str) -> None:
    """Fill SECRET_KEY and NIK_ENCRYPTION_KEY from files under instance/, creating them once."""
    folder = Path(instance_path)
    if not config.get("SECRET_KEY"):
        config["SECRET_KEY"] = _read_or_create(folder / "secret_key", os.urandom(32))
    if not config.get("NIK_ENCRYPTION_KEY"):
        config["NIK_ENCRYPTION_KEY"] = _read_or_create(folder / "nik_encryption_key", os.urandom(32))
