"""Evidence photos: accept only real pictures, and keep none of what came with them.

Residents attach up to three photos to a complaint (a house, a KK card, …) and village staff
open them later in a browser. So an upload is never stored as sent. It is identified by its
content, its declared size is checked before a single pixel is decoded, and then only its decoded
pixels are encoded afresh as a JPEG (or a PNG when it has transparency). Whatever else the file
carried goes nowhere: EXIF with GPS position and camera serials, XMP, ICC profiles, comments,
embedded thumbnails, and anything appended after the image data (HTML, script, a ZIP archive).

HEIC/HEIF, the default of iPhones, is accepted when the optional ``pillow-heif`` package is
installed; without it such a file is refused like any other format we do not take.
"""

from __future__ import annotations

import errno
import hashlib
import io
import json
import logging
import math
import os
import re
import secrets
import threading
import time
import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import BinaryIO, Literal

from PIL import ExifTags, Image, UnidentifiedImageError

from portal.i18n import N_, UserFacingError

logger = logging.getLogger(__name__)

RejectionReason = Literal["not_image", "format", "too_many_pixels", "too_large", "empty", "corrupt"]

#: Defaults for `clean_image`. A phone photo is 2-8 MB; 40 MP is above any phone camera but far below
#: what would strain a worker (40 MP of RGBA is 160 MB while decoding); 1600 px is plenty to read a
#: KK card on a staff member's screen and keeps a stored photo around 200-400 KB.
DEFAULT_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_MAX_PIXELS = 40_000_000
DEFAULT_MAX_SIDE = 1600

#: JPEG quality of the stored copy: text on a photographed card stays legible, files stay small.
JPEG_QUALITY = 82

#: Photos decoded at once per process (gunicorn worker), whatever its threads: the memory a worker
#: can spend on decoding stays that of one photo. Others wait up to `DECODE_WAIT_SECONDS`.
DECODE_SLOTS = 1
DECODE_WAIT_SECONDS = 10.0
_decode_slots = threading.BoundedSemaphore(DECODE_SLOTS)

_STORED_EXTENSIONS = {".jpg": "image/jpeg", ".png": "image/png"}
#: What `store_image` writes: 128 random bits in hex and our own extension, nothing from the client.
_STORED_NAME = re.compile(r"[0-9a-f]{32}\.(?:jpg|png)")

_ORIENTATION_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def _register_heif() -> bool:
    try:
        from pillow_heif import register_heif_opener
    except ImportError:
        return False
    # Only the primary picture is ever used, so libheif need not parse thumbnails, depth maps or
    # auxiliary images: less hostile input handled, less memory.
    register_heif_opener(thumbnails=False, depth_images=False, aux_images=False)
    return True


#: Whether HEIC/HEIF photos are accepted (``pillow-heif`` is installed and registered with Pillow).
HEIF_SUPPORTED = _register_heif()

# Pillow format names we decode. MPO is what Pillow calls a JPEG that carries a second picture in an
# MPF segment, as many Android cameras write; its first picture is an ordinary JPEG.
_ACCEPTED_FORMATS: tuple[str, ...] = ("JPEG", "PNG", "WEBP") + (("HEIF",) if HEIF_SUPPORTED else ())
_JPEG_FORMATS = frozenset({"JPEG", "MPO"})

# Whole sentences per case (not a list of formats pasted in), so that each translates as one.
_MESSAGES: dict[str, str] = {
    "not_image": N_("Berkas ini bukan foto (JPEG, PNG, WebP atau HEIC).") if HEIF_SUPPORTED
    else N_("Berkas ini bukan foto (JPEG, PNG atau WebP)."),
    "format": N_("Jenis gambar ini tidak diterima. Kirim foto dalam format JPEG, PNG, WebP atau HEIC.")
    if HEIF_SUPPORTED else N_("Jenis gambar ini tidak diterima. Kirim foto dalam format JPEG, PNG atau WebP."),
    "too_many_pixels": N_("Resolusi gambar ini terlalu besar. Kirim foto dengan resolusi lebih kecil."),
    "too_large": N_("Berkas terlalu besar."),
    "empty": N_("Berkas kosong. Pilih foto yang ingin dikirim."),
    "corrupt": N_("Foto ini rusak atau tidak lengkap. Coba kirim ulang atau ambil foto baru."),
}

_TOO_LARGE = N_("Berkas terlalu besar. Ukuran maksimal %(size)s.")

# Serialises our use of warnings.catch_warnings(), which swaps the process-wide filter list and
# puts the saved one back on exit: two gunicorn threads doing that at once could leave the wrong
# list in force for the rest of the process. Only header parsing and EXIF reading run under it.
_WARNINGS_LOCK = threading.Lock()


class UploadRejected(UserFacingError):
    """An upload that cannot be accepted; `message` (with `params`) is the user-facing reason."""

    reason: RejectionReason

    def __init__(self, reason: RejectionReason, message: str | None = None, **params: object) -> None:
        super().__init__(message if message is not None else _MESSAGES[reason], **params)
        self.reason = reason


class UploadsBusy(RuntimeError):
    """Every decoding slot stayed taken for too long: the caller should ask to try again shortly."""


class EvidenceNotStored(Exception):
    """The server could not write a photo (disk full, read-only, out of inodes); the error's
    name is the message, for logs. Nothing of the photo is left behind."""


@dataclass(frozen=True, slots=True)
class CleanImage:
    """A re-encoded upload: only its pixels survive, at most `max_side` on the longest side."""

    data: bytes
    content_type: str  # "image/jpeg" or "image/png"
    extension: str  # ".jpg" or ".png"
    width: int
    height: int
    sha256: str  # hex of data
    source_pixels: int  # width × height of the upload as declared, before shrinking


def clean_image(
    stream: BinaryIO,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_side: int = DEFAULT_MAX_SIDE,
    wait_seconds: float = DECODE_WAIT_SECONDS,
) -> CleanImage:
    """Read one uploaded photo from `stream` and return a clean, re-encoded copy of its pixels.

    The file is identified by its content alone (a file name or a client's content type proves
    nothing). JPEG, PNG and WebP are accepted, and HEIC/HEIF when `HEIF_SUPPORTED`. The picture is
    turned upright by its EXIF orientation and shrunk to at most `max_side` pixels on its longest
    side. It comes out as a PNG when it has real transparency and as a progressive JPEG otherwise,
    with no metadata of any kind.

    At most ``max_bytes + 1`` bytes are read from `stream`. Raises `UploadRejected` with reason
    ``"empty"``, ``"too_large"``, ``"not_image"`` (not a picture Pillow knows), ``"format"`` (a
    picture, but not one we accept), ``"too_many_pixels"`` (declared size above `max_pixels`,
    refused before decoding) or ``"corrupt"``; no other exception comes from a bad upload.
    Raises `UploadsBusy` when no decoding slot frees up within `wait_seconds`.
    """
    data = _read_at_most(stream, max_bytes + 1)
    if not data:
        raise UploadRejected("empty")
    if len(data) > max_bytes:
        raise UploadRejected("too_large", _TOO_LARGE, size=_format_size(max_bytes))

    if not _decode_slots.acquire(timeout=wait_seconds):
        raise UploadsBusy
    try:
        picture, source_pixels = _decode(data, max_pixels=max_pixels, max_side=max_side)
    except UploadRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning, MemoryError):
        raise UploadRejected("too_many_pixels") from None
    except Exception as exc:
        # Decoders of hostile input fail in many ways (OSError for truncated data, SyntaxError,
        # ValueError, struct.error, EOFError, and the odd KeyError or ZeroDivisionError from a
        # plugin). To the resident they all mean the same thing; the log gets the type only, since
        # a message could quote the file's content.
        logger.info("upload refused as corrupt: %s", type(exc).__name__)
        raise UploadRejected("corrupt") from None
    finally:
        _decode_slots.release()
    return _encode(picture, source_pixels)


def store_image(folder: Path, image: CleanImage) -> str:
    """Write `image` under `folder` with a new random name and return that name.

    The folder is created (mode 0o700) when missing. The file is created exclusively with mode
    0o600, so an existing file is never overwritten, and it is on disk when this returns.
    Raises `EvidenceNotStored` when it cannot be written whole; no part of it stays then.
    """
    content_type = _STORED_EXTENSIONS.get(image.extension)
    if content_type is None or content_type != image.content_type:
        # The extension becomes part of a path: only our own two are ever allowed there.
        raise ValueError(f"not a stored image type: {image.extension!r}")
    name = secrets.token_hex(16) + image.extension
    path = folder / name
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
    except OSError as error:
        raise _not_stored(error) from error
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(image.data)
            out.flush()
            os.fsync(out.fileno())
        # Inside the try: a file whose name the caller never learns could never be cleaned up.
        _fsync_directory(folder)
    except BaseException as error:
        path.unlink(missing_ok=True)
        if isinstance(error, OSError):
            raise _not_stored(error) from error
        raise
    return name


def _not_stored(error: OSError) -> EvidenceNotStored:
    # The errno's name (ENOSPC) says enough; the message would carry the path.
    return EvidenceNotStored(errno.errorcode.get(error.errno or 0, type(error).__name__))


def remove_stored(folder: Path, names: Iterable[str]) -> None:
    """Delete the stored files `names` from `folder`, best effort.

    A name that is already gone is ignored. A name that `store_image` could not have produced (a
    path, another extension) is never touched: names may come back from the database, and a
    clean-up must not become a way to delete other files. Other failures are logged, not raised,
    so that a clean-up after an error never hides that error.
    """
    for name in names:
        if not is_stored_name(name):
            logger.warning("not removing %r: not a stored upload name", name)
            continue
        try:
            (folder / name).unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            logger.warning("could not remove stored upload %s: %s", name, exc.strerror)


def stored_file(folder: Path, name: str | None) -> tuple[Path, str] | None:
    """The path and content type of an image `store_image` wrote under `name`, or None."""
    if not name or not is_stored_name(name):
        return None
    path = folder / name
    return (path, _STORED_EXTENSIONS[path.suffix]) if path.is_file() else None


def is_stored_name(name: str) -> bool:
    """Whether `name` has the shape of a name returned by `store_image` (safe to join to its folder)."""
    return _STORED_NAME.fullmatch(name) is not None


def _read_at_most(stream: BinaryIO, limit: int) -> bytes:
    # A single read(n) may legally return fewer than n bytes before the end (pipes, sockets), so
    # read on until the end or the limit; never more than the limit, whatever the client sends.
    chunks: list[bytes] = []
    remaining = limit
    while remaining > 0:
        chunk = stream.read(min(remaining, 1024 * 1024))
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def _format_size(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.4g} MB".replace(".", ",")
    if size >= 1024:
        return f"{size / 1024:.4g} KB".replace(".", ",")
    return f"{size} byte"


@contextmanager
def _pillow_warnings_guard() -> Iterator[None]:
    # Pillow announces a picture between 1x and 2x its MAX_IMAGE_PIXELS only with a
    # DecompressionBombWarning, which would let it through; as an error it stops Image.open. Its
    # other warnings (a malformed MPO or APNG, odd EXIF) are about the resident's file, not about
    # the server, and must neither fill the log nor, where warnings are errors, escape as one.
    with _WARNINGS_LOCK, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        yield


def _decode(data: bytes, *, max_pixels: int, max_side: int) -> tuple[Image.Image, int]:
    """Decode `data` to an upright picture of at most `max_side` px a side, with no metadata,
    and the number of pixels the file declared."""
    with _pillow_warnings_guard():
        try:
            image = Image.open(io.BytesIO(data), formats=_ACCEPTED_FORMATS)
        except UnidentifiedImageError:
            raise UploadRejected(_classify_unaccepted(data)) from None
        # Image.open has read the header only. Refuse a decompression bomb now, before its pixels
        # are allocated: a 30 KB PNG can declare 30000 x 30000.
        width, height = image.size
        if width <= 0 or height <= 0:
            raise UploadRejected("corrupt")
        if width * height > max_pixels:
            raise UploadRejected("too_many_pixels")

    with image:
        longest = max(width, height)
        if image.format in _JPEG_FORMATS and longest > max_side:
            # libjpeg can decode at 1/2, 1/4 or 1/8 scale directly; draft() picks the smallest that
            # stays at or above the target, which makes a 12 MP photo several times cheaper.
            scale = max_side / longest
            image.draft(None, (math.ceil(width * scale), math.ceil(height * scale)))
        # Only now are the pixels decoded; truncated or corrupt data fails here.
        image.load()
        orientation = _read_orientation(image)
        picture = _normalise_mode(image)
        picture.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
        # Turning after shrinking gives the same picture as turning first, at a fraction of the cost.
        transpose = _ORIENTATION_TRANSPOSE.get(orientation)
        if transpose is not None:
            picture = picture.transpose(transpose)
        if picture.mode == "RGBA" and picture.getchannel("A").getextrema()[0] == 255:
            # Phone screenshots are often RGBA with nothing transparent: a JPEG serves them better.
            picture = picture.convert("RGB")
        # A new image from the bare pixels. Pillow's encoders read some metadata from `info` even
        # when not asked to (the JPEG comment, the PNG ICC profile), and every operation above
        # copies `info` along; starting from nothing is the only way to be sure nothing rides along.
        return Image.frombytes(picture.mode, picture.size, picture.tobytes()), width * height


def _classify_unaccepted(data: bytes) -> RejectionReason:
    # Only to tell the resident which mistake they made: is it a picture of another kind (GIF,
    # BMP, TIFF, …) or no picture at all? The file is opened to its header and never decoded.
    try:
        with Image.open(io.BytesIO(data)):
            return "format"
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        return "format"
    except Exception:
        return "not_image"


def _read_orientation(image: Image.Image) -> int:
    with _pillow_warnings_guard():
        try:
            value = image.getexif().get(ExifTags.Base.Orientation, 1)
        except Exception:
            # Orientation is a nicety: a broken EXIF block must not cost a resident their evidence.
            return 1
    return value if isinstance(value, int) else 1


def _normalise_mode(image: Image.Image) -> Image.Image:
    """Return the picture as RGBA (when it has transparency), RGB or L, ready to be resized."""
    if image.has_transparency_data:
        return image.convert("RGBA")
    if image.mode in ("RGB", "L"):
        return image
    if image.mode == "I" or image.mode.startswith("I;16"):
        # 16-bit greyscale (some scanners): a plain convert("L") would clip nearly all of it to white.
        return image.convert("I").point(lambda value: value / 256).convert("L")
    if image.mode == "1":
        return image.convert("L")
    return image.convert("RGB")


def _encode(picture: Image.Image, source_pixels: int) -> CleanImage:
    out = io.BytesIO()
    if picture.mode == "RGBA":
        picture.save(out, format="PNG", optimize=True)
        content_type, extension = "image/png", ".png"
    else:
        picture.save(out, format="JPEG", quality=JPEG_QUALITY, progressive=True, optimize=True)
        content_type, extension = "image/jpeg", ".jpg"
    data = out.getvalue()
    return CleanImage(
        data=data,
        content_type=content_type,
        extension=extension,
        width=picture.width,
        height=picture.height,
        sha256=hashlib.sha256(data).hexdigest(),
        source_pixels=source_pixels,
    )


def _fsync_directory(folder: Path) -> None:
    # The new directory entry must survive a crash too, or the database could name a file that
    # the file system forgot.
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# -- photos chosen on a form that came back ----------------------------------------------------
#
# A complaint form can come back several times before it is filed (a field to correct, a wrong
# captcha answer, a new captcha image, a no-JavaScript step), and a browser never re-sends a file
# input. So the photos of such a round are kept on the server as *pending* uploads, under a random
# token that only that form carries, and attached again on the next round. They are private like
# evidence (mode 0600 under the upload folder, never served; the form shows only the file name),
# bounded (a form's few photos, a total for the whole server) and forgotten after a while.
#
# A photo is decoded only in a round whose captcha was solved (see `clean_photos`): a round with
# a wrong captcha stores what was sent as it came, after a look at its first bytes, and decodes
# nothing. The cost of such a round is a bounded write, not the memory and time of decoding.

#: What the pending folder holds: one folder per form token (named by a hash of the token).
PENDING_DIRNAME = "pending"
DEFAULT_PENDING_SECONDS = 2 * 3600
DEFAULT_PENDING_MAX_BYTES = 512 * 1024 * 1024
#: How often a process may sweep the pending folder when a photo is kept (see `_kept_bytes`).
SWEEP_EVERY_SECONDS = 60
_PENDING_TOKEN = re.compile(r"[A-Za-z0-9_-]{24,64}")
# What a sweep found per pending folder, plus what this process kept since: (swept at, bytes).
_totals: dict[Path, tuple[float, int]] = {}
_TOTALS_LOCK = threading.Lock()
_INDEX_BYTES = 512  # about what a form's index file takes
_PENDING_KEY = re.compile(r"[0-9a-f]{16}")
_INDEX = "index.json"
_MAX_FILENAME = 60

# The first bytes of each picture format we take; HEIF is an ISO box file whose brand names it.
_HEIF_BRANDS = frozenset({b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"})
_OTHER_PICTURES = (b"GIF8", b"BM", b"II*\x00", b"MM\x00*")


def sniff_photo(head: bytes) -> RejectionReason | None:
    """Why the file starting with `head` (its first 16 bytes or more) cannot be a photo we take,
    from those bytes alone; None when it may be one. Nothing is decoded: that waits for a solved
    captcha, and the decoder has the last word."""
    if not head:
        return "empty"
    if head.startswith(b"\xff\xd8\xff") or head.startswith(b"\x89PNG\r\n\x1a\n"):
        return None
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return None
    if head[4:8] == b"ftyp" and head[8:12] in _HEIF_BRANDS:
        return None if HEIF_SUPPORTED else "format"
    return "format" if head.startswith(_OTHER_PICTURES) else "not_image"


@dataclass(frozen=True, slots=True)
class PendingPhoto:
    """A photo kept for a form: `key` names it within the form, `filename` is how the resident's
    phone called it (shown back to that form only, shortened)."""

    key: str
    filename: str
    size: int
    image: CleanImage | None = None  # set once decoded in a round whose captcha was solved


@dataclass(frozen=True, slots=True)
class PhotoProblem:
    """A photo that cannot be used, with the reason (a message to translate, and its params)."""

    filename: str
    message: str
    params: dict[str, object]


class PendingUploads:
    """The pending photos of every form under `folder`, each form's under its token."""

    def __init__(self, folder: Path, *, max_files: int, max_bytes: int,
                 max_total_bytes: int = DEFAULT_PENDING_MAX_BYTES, keep_seconds: float = DEFAULT_PENDING_SECONDS):
        self.folder = folder / PENDING_DIRNAME
        self.max_files = max_files
        self.max_bytes = max_bytes
        self.max_total_bytes = max_total_bytes
        self.keep_seconds = keep_seconds

    @staticmethod
    def new_token() -> str:
        """A token for a form that has none yet: 192 random bits, unguessable."""
        return secrets.token_urlsafe(24)

    @staticmethod
    def is_token(token: str | None) -> bool:
        return bool(token) and _PENDING_TOKEN.fullmatch(token) is not None

    def photos(self, token: str | None, *, now: float | None = None) -> list[PendingPhoto]:
        """The photos kept for `token`, oldest first; none when the token is unknown or they expired."""
        place = self._place(token)
        if place is None:
            return []
        entries = self._read_index(place)
        if entries and self._expired(place, now):
            self.discard(token)
            return []
        return [self._photo(place, entry) for entry in entries]

    def keep(self, token: str, filename: str, data: bytes, *, now: float | None = None) -> PendingPhoto | None:
        """Keep one photo for `token` as it came (after `sniff_photo`); None when the form already
        has its photos or the server's pending total is reached. Raises EvidenceNotStored."""
        place = self._place(token)
        if place is None:
            raise ValueError("not a pending-upload token")
        entries = self._read_index(place)
        if len(entries) >= self.max_files or len(data) > self.max_bytes:
            return None
        cost = _disk_cost(len(data)) + _disk_cost(_INDEX_BYTES)
        if self._kept_bytes(now) + cost > self.max_total_bytes:
            return None
        key = secrets.token_hex(8)
        entry = {"key": key, "filename": _short_filename(filename), "size": len(data)}
        self._write(place, key + ".raw", data)
        self._write_index(place, [*entries, entry])
        with _TOTALS_LOCK:
            _totals[self.folder] = (_totals[self.folder][0], _totals[self.folder][1] + cost)
        return self._photo(place, entry)

    def _kept_bytes(self, now: float | None) -> int:
        # A sweep reads every form's folder, too much for every photo: one runs at most every
        # SWEEP_EVERY_SECONDS per process, and in between the total is that sweep's plus what this
        # process kept since (other processes' photos show at the next sweep; the rate limits
        # bound what they add meanwhile).
        now = time.time() if now is None else now
        with _TOTALS_LOCK:
            swept_at, kept = _totals.get(self.folder, (float("-inf"), 0))
        if now - swept_at < SWEEP_EVERY_SECONDS:
            return kept
        kept = self.sweep(now=now)
        with _TOTALS_LOCK:
            _totals[self.folder] = (now, kept)
        return kept

    def replace_with_clean(self, token: str, key: str, image: CleanImage) -> None:
        """Keep the decoded copy of a pending photo instead of what was sent: it is never decoded again."""
        place = self._place(token)
        if place is None:
            return
        entries = self._read_index(place)
        for entry in entries:
            if entry["key"] == key:
                self._write(place, key + image.extension, image.data)
                entry["image"] = {"content_type": image.content_type, "extension": image.extension,
                                  "width": image.width, "height": image.height, "sha256": image.sha256,
                                  "source_pixels": image.source_pixels}
                self._write_index(place, entries)
                (place / (key + ".raw")).unlink(missing_ok=True)

    def remove(self, token: str | None, key: str) -> None:
        """Forget one photo of the form (the resident's "hapus")."""
        place = self._place(token)
        if place is None or not _PENDING_KEY.fullmatch(key or ""):
            return
        entries = self._read_index(place)
        self._write_index(place, [entry for entry in entries if entry["key"] != key])
        for suffix in (".raw", ".jpg", ".png"):
            (place / (key + suffix)).unlink(missing_ok=True)

    def discard(self, token: str | None) -> None:
        """Forget every photo of the form (it was filed, or they expired)."""
        place = self._place(token)
        if place is not None:
            _remove_folder(place)

    def sweep(self, *, now: float | None = None) -> int:
        """Remove every form's photos older than `keep_seconds`; returns the bytes still kept."""
        now = time.time() if now is None else now
        kept = 0
        try:
            places = list(os.scandir(self.folder))
        except FileNotFoundError:
            return 0
        for place in places:
            if not place.is_dir(follow_symlinks=False):
                continue
            if self._expired(Path(place.path), now):
                _remove_folder(Path(place.path))
                continue
            files = [f for f in os.scandir(place.path) if f.is_file(follow_symlinks=False)]
            kept += sum(_disk_cost(f.stat().st_size) for f in files)
        return kept

    def _place(self, token: str | None) -> Path | None:
        if not self.is_token(token):
            return None
        # The folder is named by a hash: the token itself, which opens the photos, is on no disk.
        return self.folder / hashlib.sha256(token.encode()).hexdigest()[:32]

    def _expired(self, place: Path, now: float | None) -> bool:
        now = time.time() if now is None else now
        try:
            return place.stat().st_mtime + self.keep_seconds < now
        except FileNotFoundError:
            return True

    def _photo(self, place: Path, entry: dict) -> PendingPhoto:
        image = None
        if (meta := entry.get("image")) is not None:
            image = CleanImage(data=b"", **meta)
        return PendingPhoto(key=entry["key"], filename=entry["filename"], size=entry["size"], image=image)

    def read(self, token: str, photo: PendingPhoto) -> PendingPhoto:
        """`photo` with its bytes: the clean copy's in `image.data`, or what was sent as `data`."""
        place = self._place(token)
        assert place is not None
        if photo.image is not None:
            data = (place / (photo.key + photo.image.extension)).read_bytes()
            return replace(photo, image=replace(photo.image, data=data))
        return photo

    def raw_stream(self, token: str, photo: PendingPhoto) -> BinaryIO:
        place = self._place(token)
        assert place is not None
        return (place / (photo.key + ".raw")).open("rb")

    @staticmethod
    def _read_index(place: Path) -> list[dict]:
        try:
            entries = json.loads((place / _INDEX).read_text("utf-8"))
        except (FileNotFoundError, ValueError):
            return []
        return [e for e in entries if isinstance(e, dict) and _PENDING_KEY.fullmatch(str(e.get("key", "")))]

    def _write_index(self, place: Path, entries: list[dict]) -> None:
        temporary = f"{_INDEX}.{secrets.token_hex(4)}"
        self._write(place, temporary, json.dumps(entries).encode())
        os.replace(place / temporary, place / _INDEX)  # also marks the form's photos as fresh

    @staticmethod
    def _write(place: Path, name: str, data: bytes) -> None:
        try:
            place.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(place / name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0), 0o600)
        except OSError as error:
            raise _not_stored(error) from error
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
        except OSError as error:
            (place / name).unlink(missing_ok=True)  # no half photo is ever attached
            raise _not_stored(error) from error


def _disk_cost(size: int) -> int:
    # A file takes at least a block: many tiny files must not slip under the total.
    return max(size, 4096)


def _short_filename(filename: str | None) -> str:
    # Only shown back to the same form; kept short and without path or control characters.
    name = os.path.basename((filename or "").replace("\\", "/"))
    name = "".join(ch for ch in name if ch.isprintable())
    return name[:_MAX_FILENAME] or "foto"


def _remove_folder(place: Path) -> None:
    try:
        entries = list(os.scandir(place))
    except FileNotFoundError:
        return
    for entry in entries:
        if entry.is_file(follow_symlinks=False):
            Path(entry.path).unlink(missing_ok=True)
    try:
        place.rmdir()
    except OSError as exc:
        logger.warning("could not remove pending uploads: %s", exc.strerror)


def clean_photos(
    pending: PendingUploads, token: str, *, max_bytes: int, pixel_budget: int, wait_seconds: float,
) -> tuple[list[CleanImage], list[PhotoProblem]]:
    """Decode every photo kept for `token` within one complaint's pixel budget; call only once
    the round's captcha is solved. A photo that cannot be used is forgotten (its problem is
    returned, to show next to the field); one that can is kept from now on as its clean copy.
    Raises UploadsBusy when no decoding slot frees up (nothing is forgotten then)."""
    images: list[CleanImage] = []
    problems: list[PhotoProblem] = []
    budget = pixel_budget
    for photo in pending.photos(token):
        if photo.image is not None:
            image = pending.read(token, photo).image
        else:
            try:
                with pending.raw_stream(token, photo) as stream:
                    image = clean_image(stream, max_bytes=max_bytes, max_pixels=min(DEFAULT_MAX_PIXELS, budget),
                                        wait_seconds=wait_seconds)
            except UploadRejected as rejected:
                problems.append(PhotoProblem(photo.filename, rejected.message, rejected.params))
                pending.remove(token, photo.key)
                continue
            except FileNotFoundError:
                continue  # removed meanwhile by the same form in another tab
            pending.replace_with_clean(token, photo.key, image)
        assert image is not None
        budget -= image.source_pixels
        images.append(image)
    return images, problems


def keep_chosen_photos(
    pending: PendingUploads, token: str, chosen: Iterable[tuple[str, BinaryIO]],
) -> list[PhotoProblem]:
    """Keep the photos chosen in this round for `token`, next to those kept before, up to the
    form's number; returns the problem of each file that was not kept. A file is judged here by
    its size and first bytes only: nothing is decoded before a captcha is solved."""
    problems: list[PhotoProblem] = []
    count = len(pending.photos(token))
    for filename, stream in chosen:
        name = _short_filename(filename)
        if count >= pending.max_files:
            problems.append(PhotoProblem(name, N_("Paling banyak %(n)d foto."), {"n": pending.max_files}))
            continue
        data = _read_at_most(stream, pending.max_bytes + 1)
        if len(data) > pending.max_bytes:
            problems.append(PhotoProblem(name, _TOO_LARGE, {"size": _format_size(pending.max_bytes)}))
            continue
        if (reason := sniff_photo(data[:16])) is not None:
            problems.append(PhotoProblem(name, _MESSAGES[reason], {}))
            continue
        if pending.keep(token, filename, data) is None:
            problems.append(PhotoProblem(name, N_("Foto ini belum dapat disimpan karena server sedang penuh. "
                                                  "Coba kirim lagi sebentar lagi."), {}))
            continue
        count += 1
    return problems
