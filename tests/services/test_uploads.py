"""Evidence photos: only real pictures get in, only their pixels are kept, and they are stored safely."""

from __future__ import annotations

import hashlib
import io
import os
import re
import stat
import struct
import subprocess
import warnings
import zipfile
import zlib
from pathlib import Path

import pytest
from PIL import ExifTags, Image, ImageCms

from portal.services import uploads
from portal.services.uploads import (
    CleanImage,
    EvidenceNotStored,
    UploadRejected,
    clean_image,
    remove_stored,
    store_image,
)

RED = (220, 30, 30)
BLUE = (30, 30, 220)


# --- inputs, all made here --------------------------------------------------------------------


def make_picture(size: tuple[int, int] = (400, 300), mode: str = "RGB") -> Image.Image:
    """A picture with some detail, so that encoders have real work to do."""
    width, height = size
    gradient = Image.linear_gradient("L").resize(size)
    noise = Image.effect_noise(size, 30)
    picture = Image.merge("RGB", (gradient, noise, gradient.transpose(Image.Transpose.FLIP_LEFT_RIGHT)))
    picture.paste(RED, (0, 0, width // 2, height // 2))
    return picture.convert(mode)


def encode(picture: Image.Image, fmt: str, **params: object) -> bytes:
    out = io.BytesIO()
    picture.save(out, format=fmt, **params)
    return out.getvalue()


def make_jpeg(size: tuple[int, int] = (400, 300), **params: object) -> bytes:
    return encode(make_picture(size), "JPEG", quality=90, **params)


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_declaring(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims `width` x `height` RGB pixels: a decompression bomb's shape."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", zlib.compress(b"\x00" * 1024))
        + png_chunk(b"IEND", b"")
    )


def clean(data: bytes, **limits: int) -> CleanImage:
    return clean_image(io.BytesIO(data), **limits)


def rejection(data: bytes, **limits: int) -> UploadRejected:
    with pytest.raises(UploadRejected) as caught:
        clean(data, **limits)
    return caught.value


def opened(image: CleanImage) -> Image.Image:
    picture = Image.open(io.BytesIO(image.data))
    picture.load()
    return picture


def close_to(pixel: tuple[int, ...], colour: tuple[int, int, int], tolerance: int = 40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel[:3], colour, strict=True))


# --- accepted pictures ------------------------------------------------------------------------


def test_a_jpeg_is_accepted_and_re_encoded_as_a_jpeg():
    data = make_jpeg((640, 480))

    image = clean(data)

    assert (image.content_type, image.extension) == ("image/jpeg", ".jpg")
    assert (image.width, image.height) == (640, 480)
    assert image.data != data
    assert image.sha256 == hashlib.sha256(image.data).hexdigest()
    picture = opened(image)
    assert picture.format == "JPEG"
    assert picture.mode == "RGB"
    assert picture.size == (640, 480)
    assert picture.info.get("progressive") == 1
    assert close_to(picture.getpixel((10, 10)), RED)


def test_a_large_photo_is_shrunk_to_the_longest_side_limit():
    image = clean(make_jpeg((4000, 3000)))

    assert (image.width, image.height) == (1600, 1200)
    assert opened(image).size == (1600, 1200)
    assert len(image.data) < 1024 * 1024


def test_a_portrait_photo_is_bounded_on_its_height_and_keeps_its_shape():
    image = clean(make_jpeg((1000, 3000)), max_side=900)

    assert (image.width, image.height) == (300, 900)


def test_a_small_picture_is_not_enlarged():
    image = clean(make_jpeg((120, 80)))

    assert (image.width, image.height) == (120, 80)


def test_gps_and_every_other_kind_of_metadata_are_dropped(tmp_path: Path):
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Samsung"
    exif[ExifTags.Base.Model] = "Galaxy A14"
    exif[ExifTags.Base.BodySerialNumber] = "R58T90ABCDE"
    exif[ExifTags.IFD.GPSInfo] = {
        ExifTags.GPS.GPSLatitudeRef: "S",
        ExifTags.GPS.GPSLatitude: (6.0, 10.0, 30.5),
        ExifTags.GPS.GPSLongitudeRef: "E",
        ExifTags.GPS.GPSLongitude: (106.0, 49.0, 12.25),
        ExifTags.GPS.GPSProcessingMethod: b"ASCII\x00\x00\x00GPS",
    }
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><exif:GPSLatitude>6,10.5S</exif:GPSLatitude></x:xmpmeta>'
    data = make_jpeg(exif=exif.tobytes(), icc_profile=icc, xmp=xmp, comment=b"rumah Bu Siti, RT 03")
    with Image.open(io.BytesIO(data)) as original:  # the input really carries all of it
        assert original.getexif().get_ifd(ExifTags.IFD.GPSInfo)
        assert {"exif", "icc_profile", "xmp", "comment"} <= set(original.info)
    assert b"Exif" in data and b"GPS" in data and b"Samsung" in data

    name = store_image(tmp_path, clean(data))

    stored = (tmp_path / name).read_bytes()
    with Image.open(io.BytesIO(stored)) as copy:
        assert not copy.getexif()
        assert not copy.getexif().get_ifd(ExifTags.IFD.GPSInfo)
        assert not {"exif", "icc_profile", "xmp", "comment"} & set(copy.info)
    for marker in (b"Exif", b"GPS", b"Samsung", b"Galaxy", b"R58T90", b"xmpmeta", b"Bu Siti", b"acsp"):
        assert marker not in stored


def test_exif_orientation_is_applied_to_the_pixels():
    # Left half red, right half blue, stored sideways: orientation 6 means "turn 90 degrees clockwise".
    sideways = Image.new("RGB", (400, 200), BLUE)
    sideways.paste(RED, (0, 0, 200, 200))
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    data = encode(sideways, "JPEG", quality=95, exif=exif.tobytes())

    image = clean(data)

    assert (image.width, image.height) == (200, 400)
    picture = opened(image)
    assert not picture.getexif()  # no orientation left to be applied a second time
    assert close_to(picture.getpixel((100, 50)), RED)
    assert close_to(picture.getpixel((100, 350)), BLUE)


def test_orientation_is_applied_when_the_photo_is_also_shrunk():
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 8
    image = clean(make_jpeg((4000, 3000), exif=exif.tobytes()))

    assert (image.width, image.height) == (1200, 1600)


def test_a_png_with_transparency_stays_a_png_with_its_alpha():
    picture = Image.new("RGBA", (300, 200), (0, 0, 0, 0))
    picture.paste((*RED, 255), (50, 50, 250, 150))
    data = encode(picture, "PNG", icc_profile=ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes())

    image = clean(data)

    assert (image.content_type, image.extension) == ("image/png", ".png")
    result = opened(image)
    assert result.format == "PNG"
    assert result.mode == "RGBA"
    assert result.getpixel((5, 5))[3] == 0
    assert result.getpixel((150, 100)) == (*RED, 255)
    assert "icc_profile" not in result.info


def test_a_palette_png_with_a_transparent_colour_stays_a_png():
    picture = Image.new("P", (64, 64), 0)
    picture.putpalette([255, 255, 255, *RED] + [0] * 762)
    picture.paste(1, (16, 16, 48, 48))
    data = encode(picture, "PNG", transparency=0)

    image = clean(data)

    assert image.extension == ".png"
    assert opened(image).getpixel((0, 0))[3] == 0


def test_an_opaque_rgba_png_such_as_a_screenshot_becomes_a_jpeg():
    data = encode(make_picture((320, 240), "RGBA"), "PNG")

    image = clean(data)

    assert image.extension == ".jpg"
    assert opened(image).mode == "RGB"


def test_a_png_without_alpha_becomes_a_jpeg():
    image = clean(encode(make_picture((320, 240)), "PNG"))

    assert (image.content_type, image.width, image.height) == ("image/jpeg", 320, 240)


def test_a_greyscale_16_bit_png_keeps_its_tones():
    row = struct.pack("<32H", *[50000] * 32) + struct.pack("<32H", *[20000] * 32)
    picture = Image.frombytes("I;16", (64, 64), row * 64)
    assert picture.getpixel((10, 10)) == 50000

    result = opened(clean(encode(picture, "PNG")))

    assert result.mode == "L"
    assert abs(result.getpixel((10, 10)) - 50000 // 256) <= 4
    assert abs(result.getpixel((50, 10)) - 20000 // 256) <= 4


def test_a_webp_is_accepted():
    image = clean(encode(make_picture((500, 400)), "WEBP", quality=80, exif=b"Exif\x00\x00MM\x00*"))

    assert (image.content_type, image.width, image.height) == ("image/jpeg", 500, 400)
    assert opened(image).format == "JPEG"


def test_a_webp_with_transparency_becomes_a_png():
    picture = Image.new("RGBA", (100, 100), (0, 0, 0, 0))
    picture.paste((*BLUE, 255), (25, 25, 75, 75))

    image = clean(encode(picture, "WEBP", lossless=True))

    assert image.extension == ".png"
    assert opened(image).getpixel((0, 0))[3] == 0


def test_a_cmyk_jpeg_comes_out_rgb():
    image = clean(encode(make_picture((200, 100), "CMYK"), "JPEG"))

    assert opened(image).mode == "RGB"


@pytest.mark.skipif(not uploads.HEIF_SUPPORTED, reason="pillow-heif is not installed")
def test_a_heic_photo_is_accepted_upright_and_without_metadata():
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    exif[ExifTags.Base.Make] = "Apple"
    data = encode(make_picture((640, 480)), "HEIF", quality=80, exif=exif.tobytes())

    image = clean(data)

    # libheif turns the picture itself; it must not be turned a second time.
    assert (image.content_type, image.width, image.height) == ("image/jpeg", 480, 640)
    assert b"Apple" not in image.data
    assert not opened(image).getexif()


# --- polyglots ----------------------------------------------------------------------------------


def test_html_appended_to_a_valid_jpeg_does_not_survive():
    data = make_jpeg() + b"<html><script>alert(1)</script></html>"

    image = clean(data)

    assert image.content_type == "image/jpeg"
    assert b"<script" not in image.data
    assert b"<html" not in image.data


def test_a_zip_appended_to_a_valid_jpeg_does_not_survive():
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("index.html", "<script>alert(1)</script>")
    data = make_jpeg() + archive.getvalue()
    assert zipfile.is_zipfile(io.BytesIO(data))

    image = clean(data)

    assert not zipfile.is_zipfile(io.BytesIO(image.data))
    assert b"PK\x03\x04" not in image.data
    assert b"index.html" not in image.data


def test_script_in_a_jpeg_comment_does_not_survive():
    image = clean(make_jpeg(comment=b"<script>alert(document.cookie)</script>"))

    assert b"<script" not in image.data


# --- refused uploads ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>", id="html-as-jpg"),
        pytest.param(
            b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
            b"<script>alert(1)</script><rect width='10' height='10'/></svg>",
            id="svg-with-script",
        ),
        pytest.param(
            b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
            b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n",
            id="pdf",
        ),
        pytest.param(b"Nama: Siti Aminah\nAlamat: RT 03 RW 02\n", id="text"),
        pytest.param(b"\xff\xd8\xff\xe0" + b"\x00" * 64, id="jpeg-magic-then-nothing"),
        pytest.param(b"PK\x03\x04" + b"\x00" * 64, id="zip"),
    ],
)
def test_what_is_not_a_picture_is_refused_as_not_an_image(data: bytes):
    refused = rejection(data)

    assert refused.reason == "not_image"
    assert refused.message == str(refused)
    assert "bukan foto" in str(refused)


@pytest.mark.parametrize("fmt", ["GIF", "BMP", "TIFF", "ICO", "PPM"])
def test_a_picture_of_another_format_is_refused_as_format(fmt: str):
    refused = rejection(encode(make_picture((64, 64)), fmt))

    assert refused.reason == "format"
    assert "JPEG" in str(refused)


def test_a_truncated_jpeg_is_refused_as_corrupt():
    data = make_jpeg((400, 300))

    refused = rejection(data[: len(data) // 2])

    assert refused.reason == "corrupt"
    assert refused.message


def test_a_png_with_broken_pixel_data_is_refused_as_corrupt():
    data = png_declaring(64, 64).replace(zlib.compress(b"\x00" * 1024), b"not zlib at all!!")

    assert rejection(data).reason == "corrupt"


def test_an_empty_upload_is_refused():
    refused = rejection(b"")

    assert refused.reason == "empty"
    assert refused.message


def test_an_upload_over_the_byte_limit_is_refused():
    data = make_jpeg()

    refused = rejection(data, max_bytes=len(data) - 1)

    assert refused.reason == "too_large"
    assert "terlalu besar" in str(refused)
    assert clean(data, max_bytes=len(data)).width == 400  # exactly at the limit is fine


def test_the_default_byte_limit_is_named_in_megabytes():
    class Endless(io.RawIOBase):
        def readable(self) -> bool:
            return True

        def readinto(self, buffer) -> int:  # type: ignore[override]
            buffer[:] = b"\xff" * len(buffer)
            return len(buffer)

    with pytest.raises(UploadRejected) as caught:
        clean_image(Endless())  # type: ignore[arg-type]

    assert caught.value.reason == "too_large"
    assert "10 MB" in str(caught.value) and "%(size)s" in caught.value.message


def test_an_endless_stream_is_read_no_further_than_the_limit_plus_one():
    class Counting(io.RawIOBase):
        served = 0

        def readable(self) -> bool:
            return True

        def readinto(self, buffer) -> int:  # type: ignore[override]
            chunk = min(len(buffer), 700)  # short reads, as a socket gives them
            buffer[:chunk] = b"\x00" * chunk
            self.served += chunk
            return chunk

    stream = Counting()
    with pytest.raises(UploadRejected) as caught:
        clean_image(stream, max_bytes=5000)  # type: ignore[arg-type]

    assert caught.value.reason == "too_large"
    assert stream.served == 5001


def no_warning_escapes(data: bytes, **limits: int) -> UploadRejected:
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        refused = rejection(data, **limits)
    assert seen == []
    return refused


def test_a_pixel_bomb_is_refused_from_its_header_alone():
    data = png_declaring(30_000, 30_000)
    assert len(data) < 100

    refused = no_warning_escapes(data)

    assert refused.reason == "too_many_pixels"
    assert "resolusi" in str(refused).lower()


def test_a_picture_just_over_our_pixel_limit_is_refused():
    assert rejection(png_declaring(8000, 5001)).reason == "too_many_pixels"
    assert rejection(make_jpeg((200, 100)), max_pixels=19_999).reason == "too_many_pixels"
    assert clean(make_jpeg((200, 100)), max_pixels=20_000).width == 200


def test_a_picture_only_pillow_warns_about_is_refused_without_a_warning():
    # 100 MP lies between 1x and 2x Pillow's limit, where Pillow itself only warns.
    width = height = 10_000
    assert Image.MAX_IMAGE_PIXELS < width * height <= 2 * Image.MAX_IMAGE_PIXELS
    data = png_declaring(width, height)

    assert no_warning_escapes(data).reason == "too_many_pixels"
    # And when our own limit is set higher, Pillow's warning is what stops it.
    assert no_warning_escapes(data, max_pixels=10**12).reason == "too_many_pixels"


def test_pillows_decompression_bomb_error_becomes_a_rejection():
    data = png_declaring(30_000, 30_000)
    assert 2 * Image.MAX_IMAGE_PIXELS < 30_000 * 30_000

    assert no_warning_escapes(data, max_pixels=10**12).reason == "too_many_pixels"


def test_a_gif_bomb_is_refused_as_a_format_without_a_warning():
    header = b"GIF89a" + struct.pack("<HH", 30_000, 30_000) + b"\x00\x00\x00"
    data = header + b"\x2c" + struct.pack("<HHHH", 0, 0, 30_000, 30_000) + b"\x00\x02\x02\x44\x01\x00\x3b"

    assert no_warning_escapes(data).reason == "format"


def test_every_rejection_has_an_indonesian_message():
    for reason in ("not_image", "format", "too_many_pixels", "too_large", "empty", "corrupt"):
        refused = UploadRejected(reason)  # type: ignore[arg-type]
        assert refused.reason == reason
        assert refused.message and refused.message.endswith(".")


# --- storage ------------------------------------------------------------------------------------


def test_store_image_writes_a_private_file_with_a_random_name(tmp_path: Path):
    folder = tmp_path / "instance" / "uploads"
    image = clean(make_jpeg())

    name = store_image(folder, image)

    assert re.fullmatch(r"[0-9a-f]{32}\.jpg", name)
    path = folder / name
    assert path.read_bytes() == image.data
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert uploads.is_stored_name(name)


def test_a_stored_image_is_found_again_by_its_name_and_nothing_else_is(tmp_path: Path):
    name = store_image(tmp_path, clean(make_jpeg()))
    (tmp_path.parent / "secret.jpg").write_bytes(b"x")

    assert uploads.stored_file(tmp_path, name) == (tmp_path / name, "image/jpeg")
    for other in (None, "", "../secret.jpg", "0" * 32 + ".jpg", name.replace(".jpg", ".png")):
        assert uploads.stored_file(tmp_path, other) is None


def test_store_image_never_reuses_a_name(tmp_path: Path):
    image = clean(make_jpeg())

    names = {store_image(tmp_path, image) for _ in range(5)}

    assert len(names) == 5
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(names)


def test_store_image_keeps_the_png_extension(tmp_path: Path):
    picture = Image.new("RGBA", (10, 10), (0, 0, 0, 0))

    name = store_image(tmp_path, clean(encode(picture, "PNG")))

    assert re.fullmatch(r"[0-9a-f]{32}\.png", name)


def test_store_image_refuses_an_extension_it_did_not_make(tmp_path: Path):
    image = clean(make_jpeg())
    forged = CleanImage(image.data, "text/html", "/../../x.html", 1, 1, image.sha256, 1)

    with pytest.raises(ValueError):
        store_image(tmp_path, forged)
    assert list(tmp_path.iterdir()) == []


def noise(side: int = 400) -> CleanImage:
    """A photo that cannot shrink (random pixels): some 400 KB re-encoded."""
    return clean(encode(Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)), "PNG"))


def test_a_photo_that_does_not_fit_leaves_no_part_behind(small_tmpfs: Path):
    assert len(noise().data) > 64 * 1024
    with pytest.raises(EvidenceNotStored, match="ENOSPC"):
        store_image(small_tmpfs, noise())
    assert list(small_tmpfs.iterdir()) == []
    store_image(small_tmpfs, clean(make_jpeg()))  # the space was given back


def test_a_read_only_folder_is_reported_not_raised_raw(small_tmpfs: Path):
    subprocess.run(["mount", "-o", "remount,ro", str(small_tmpfs)], check=True)
    with pytest.raises(EvidenceNotStored, match="EROFS"):
        store_image(small_tmpfs, clean(make_jpeg()))


def test_remove_stored_deletes_and_ignores_missing_names(tmp_path: Path):
    kept = store_image(tmp_path, clean(make_jpeg()))
    removed = store_image(tmp_path, clean(make_jpeg()))

    remove_stored(tmp_path, [removed, "0" * 32 + ".jpg"])

    assert [p.name for p in tmp_path.iterdir()] == [kept]
    remove_stored(tmp_path, [removed])  # twice is harmless


def test_remove_stored_never_touches_a_name_it_could_not_have_made(tmp_path: Path):
    folder = tmp_path / "uploads"
    folder.mkdir()
    (tmp_path / "config.py").write_text("SECRET = 1\n")
    (folder / "notes.txt").write_text("keep\n")

    remove_stored(folder, ["../config.py", "notes.txt", str(tmp_path / "config.py"), ""])

    assert (tmp_path / "config.py").exists()
    assert (folder / "notes.txt").exists()


def test_a_multi_picture_jpeg_from_an_android_camera_is_accepted():
    data = encode(make_picture((400, 300)), "MPO", save_all=True, append_images=[make_picture((200, 150))])
    with Image.open(io.BytesIO(data)) as original:
        assert original.format == "MPO"

    image = clean(data)

    assert (image.content_type, image.width, image.height) == ("image/jpeg", 400, 300)


@pytest.mark.parametrize("fmt", ["WEBP", "PNG"])
def test_an_animation_keeps_only_its_first_frame(fmt: str):
    frames = [Image.new("RGB", (80, 60), RED), Image.new("RGB", (80, 60), BLUE)]
    data = encode(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100, loop=0)

    picture = opened(clean(data))

    assert picture.format == "JPEG"
    assert getattr(picture, "n_frames", 1) == 1
    assert close_to(picture.getpixel((40, 30)), RED)


# -- pending uploads --------------------------------------------------------------------------


def _jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), RED).save(out, "JPEG")
    return out.getvalue()


@pytest.mark.parametrize(
    ("head", "reason"),
    [
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", None),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", None),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", None),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00", None if uploads.HEIF_SUPPORTED else "format"),
        (b"GIF89a\x01\x00\x01\x00", "format"),
        (b"<svg xmlns=", "not_image"),
        (b"", "empty"),
    ],
)
def test_a_chosen_file_is_judged_by_its_first_bytes_without_decoding(head, reason):
    assert uploads.sniff_photo(head) == reason


def pending_in(tmp_path: Path, **options) -> uploads.PendingUploads:
    return uploads.PendingUploads(tmp_path, **{"max_files": 3, "max_bytes": 100_000, **options})


def test_pending_photos_are_kept_per_form_bounded_and_private(tmp_path):
    pending = pending_in(tmp_path)
    mine, theirs = pending.new_token(), pending.new_token()
    problems = uploads.keep_chosen_photos(pending, mine, [(f"../{n}.jpg", io.BytesIO(_jpeg())) for n in range(4)])
    assert [p.message % p.params for p in problems] == ["Paling banyak 3 foto."]
    assert [p.filename for p in pending.photos(mine)] == ["0.jpg", "1.jpg", "2.jpg"]
    assert pending.photos(theirs) == [] and pending.photos("../../etc") == []
    (folder,) = (tmp_path / "pending").iterdir()
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in folder.iterdir())


def test_the_server_keeps_no_more_pending_bytes_than_its_total(tmp_path):
    photo = _jpeg()
    # Room for two photos with their index files, each taking a disk block at least.
    pending = pending_in(tmp_path, max_total_bytes=2 * 2 * 4096 + 100)
    forms = [pending.new_token() for _ in range(3)]
    kept = [pending.keep(token, "a.jpg", photo) for token in forms]
    assert [photo is not None for photo in kept] == [True, True, False]


def test_many_tiny_files_count_as_the_disk_blocks_they_take(tmp_path):
    pending = pending_in(tmp_path, max_total_bytes=10 * 4096)
    kept = [pending.keep(pending.new_token(), "a.jpg", b"\xff\xd8\xff") for _ in range(10)]
    assert sum(photo is not None for photo in kept) == 5  # each: a block for the photo, one for its index


def test_pending_photos_expire_and_are_swept(tmp_path):
    pending = pending_in(tmp_path, keep_seconds=7200)
    old, fresh = pending.new_token(), pending.new_token()
    pending.keep(old, "a.jpg", _jpeg())
    (old_folder,) = (tmp_path / "pending").iterdir()
    pending.keep(fresh, "b.jpg", _jpeg())
    now = os.stat(tmp_path / "pending").st_mtime
    two_hours_ago = now - 7201
    os.utime(old_folder, (two_hours_ago, two_hours_ago))
    kept_bytes = pending.sweep(now=now)
    assert not old_folder.exists() and pending.photos(old) == []
    assert [p.filename for p in pending.photos(fresh)] == ["b.jpg"] and kept_bytes > 0


def test_cleaning_decodes_once_and_forgets_the_refused(tmp_path, monkeypatch):
    pending = pending_in(tmp_path)
    token = pending.new_token()
    chosen = [("ok.jpg", io.BytesIO(_jpeg())), ("cut.jpg", io.BytesIO(_jpeg()[:120]))]
    uploads.keep_chosen_photos(pending, token, chosen)
    images, problems = uploads.clean_photos(pending, token, max_bytes=100_000, pixel_budget=10**7, wait_seconds=1)
    assert len(images) == 1 and [p.filename for p in problems] == ["cut.jpg"]
    assert [p.filename for p in pending.photos(token)] == ["ok.jpg"]
    monkeypatch.setattr(uploads, "clean_image", lambda *a, **k: pytest.fail("decoded twice"))
    again, _ = uploads.clean_photos(pending, token, max_bytes=100_000, pixel_budget=10**7, wait_seconds=1)
    assert again[0].data == images[0].data
