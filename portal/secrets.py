"""Secrets: development ones generated once into the instance folder, production ones checked.

Production never reaches this module's generator: `config.check_config` refuses to start
without explicit secrets, and refuses weak ones (`secret_problem`).

Files under `instance/` hold the SQLite database (names, birth dates), these secrets, the
evidence photos and demo extracts: the folder is made 0700 and every file 0600
(`private_folder`, `private_file`), whatever the process umask.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import tempfile
from pathlib import Path

# -- production key strength -----------------------------------------------------------------

#: Bytes of key material a production secret must carry (256 bits).
KEY_BYTES = 32
# A freshly generated key fails these "looks random" screens less than once in 10^9 tries
# (the chance that 32 random bytes take fewer than 20 distinct values is 1.4e-10; that 43
# random base64 characters use fewer than 18 distinct ones is 5.8e-11), while typed phrases,
# repeated characters, zero keys and counting patterns fail them.
MIN_DISTINCT_BYTES = 20
MIN_DISTINCT_BASE64_CHARS = 18
_HEX = re.compile(r"^(?:[0-9a-fA-F]{2}){32,}$")
_BASE64 = re.compile(r"^[A-Za-z0-9+/_-]{43,}={0,2}$")
# Folders of a checkout that are not the project's own text (or are private to this host).
_SKIPPED_FOLDERS = {".git", ".venv", "venv", "node_modules", "site-packages", "instance", "__pycache__",
                    ".pytest_cache", ".ruff_cache"}
_MAX_SCANNED_FILE = 2 * 1024 * 1024


def key_material(value: str) -> bytes | None:
    """The bytes a key written as hex or base64 (standard or URL-safe, padding optional) stands for."""
    value = value.strip()
    if _HEX.match(value):
        return bytes.fromhex(value)
    if not _BASE64.match(value):
        return None
    text = value.rstrip("=").replace("-", "+").replace("_", "/")
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None


def found_in_tree(value: str, root: Path) -> Path | None:
    """A file of the project checkout at `root` that contains `value`, if any.

    A key that is written anywhere in the source (a test configuration, an example in the
    README, a fixture) is public: everyone with the repository has it.
    """
    needles = {value.encode(), value.rstrip("=").encode()}
    for folder, subfolders, files in os.walk(root):
        # A virtualenv of any name holds other projects' files, not ours (and thousands of them).
        subfolders[:] = [name for name in subfolders if name not in _SKIPPED_FOLDERS
                         and not (Path(folder) / name / "pyvenv.cfg").exists()]
        for name in files:
            path = Path(folder) / name
            try:
                if path.stat().st_size > _MAX_SCANNED_FILE:
                    continue
                data = path.read_bytes()
            except OSError:
                continue
            if any(needle in data for needle in needles):
                return path
    return None


def _standard_base64(value: str) -> bytes | None:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None


def secret_problem(name: str, value: str, *, root: Path, exact_bytes: bool = False) -> str | None:
    """Why `value` is not acceptable as the production secret `name`, or None.

    The rule: at least 32 bytes of key material written as hex (64+ characters) or base64
    (43+ characters, standard or URL-safe); exactly 32 bytes of standard base64 where
    `exact_bytes` (the NIK key); looking random (see MIN_DISTINCT_*); and written in no file
    of the project at `root`.
    """
    value = value.strip()
    material = _standard_base64(value) if exact_bytes else key_material(value)
    if material is None or len(material) < KEY_BYTES or (exact_bytes and len(material) != KEY_BYTES):
        size = "exactly 32 bytes as standard base64" if exact_bytes else "at least 32 bytes as hex or base64"
        return f"{name} must be {size} from a random source (see README, Configuration)."
    if (len(set(material[:KEY_BYTES])) < MIN_DISTINCT_BYTES
            or (not _HEX.match(value) and len(set(value[:43])) < MIN_DISTINCT_BASE64_CHARS)):
        return f"{name} does not look random (repeated or patterned characters); generate a new one."
    if (where := found_in_tree(value, root)) is not None:
        return f"{name} is written in the project's own file {where.relative_to(root)}: it is public."
    return None


# -- private files under instance/ -----------------------------------------------------------


def private_folder(path: Path | str) -> Path:
    """Create `path` (and missing parents) readable by this user only; tighten it if it exists."""
    path = Path(path)
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.stat().st_mode & 0o077:
        path.chmod(0o700)
    return path


def private_file(path: Path | str) -> Path:
    """Make sure `path` exists as a file only this user can read (0600), without truncating it."""
    path = Path(path)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600))
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)
    return path


# -- development secrets ---------------------------------------------------------------------


def _read_or_create(path: Path, make: bytes) -> str:
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    private_folder(path.parent)
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
