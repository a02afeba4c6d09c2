"""Flask-WTF forms: the validation of every input, with messages in Bahasa Indonesia."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from lokal import parse_nik
from wtforms import HiddenField, SelectField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, ValidationError

from portal.extensions import db
from portal.models import Region
from portal.services.names import MAX_NAME_LENGTH, is_plausible_name, normalise_name
from portal.services.regions import REGION_FIELDS, children_of, region_chain

_REGION_LABELS = {
    "provinsi": _l("Provinsi"),
    "kabupaten": _l("Kabupaten/Kota"),
    "kecamatan": _l("Kecamatan"),
    "desa": _l("Desa/Kelurahan"),
}
_REGION_ERRORS = {
    "unknown": _l("Wilayah ini tidak dikenal. Pilih dari daftar."),
    "mismatch": _l("Wilayah ini tidak berada di wilayah yang dipilih di atasnya. Pilih lagi."),
}
MIN_NAME_LETTERS = 3


def _region_select(field_name: str) -> SelectField:
    return SelectField(_REGION_LABELS[field_name], choices=[], validate_choice=False)


class RegionForm(FlaskForm):
    """Provinsi → kabupaten/kota → kecamatan → desa/kelurahan, filled step by step."""

    provinsi = _region_select("provinsi")
    kabupaten = _region_select("kabupaten")
    kecamatan = _region_select("kecamatan")
    desa = _region_select("desa")

    regions: dict[str, Region]

    def fill_region_choices(self) -> dict[str, str]:
        """Fill each select with the children of the region chosen above it.

        Returns region error messages by field; a selection that does not exist or does not
        fit the one above it is cleared, and so is everything below it. The valid selection
        is kept in `self.regions`.
        """
        codes = {name: getattr(self, name).data or "" for name in REGION_FIELDS}
        self.regions, errors = region_chain(db.session, codes)
        parent: str | None = None
        for name in REGION_FIELDS:
            field = getattr(self, name)
            options = children_of(db.session, parent) if name == "provinsi" or parent else []
            placeholder = ("", _l("— Pilih %(level)s —", level=_REGION_LABELS[name]))
            field.choices = [placeholder] + [(o.code, o.name) for o in options]
            if name in self.regions:
                parent = self.regions[name].code
            else:
                field.data = ""
                parent = None
        return {name: str(_REGION_ERRORS[code]) for name, code in errors.items()}


class LookupForm(RegionForm):
    nama = StringField(
        _l("Nama lengkap sesuai KTP"),
        validators=[
            InputRequired(_l("Nama wajib diisi.")),
            Length(max=MAX_NAME_LENGTH,
                   message=_l("Nama terlalu panjang (paling banyak %(max)d huruf).", max=MAX_NAME_LENGTH)),
        ],
        filters=[lambda text: " ".join(text.split()) if text else text],
    )
    captcha_id = HiddenField()
    captcha_jawaban = StringField(
        _l("Ketik angka pada gambar"),
        validators=[InputRequired(_l("Ketik angka yang terlihat pada gambar."))],
    )

    def validate_nama(self, field: StringField) -> None:
        if not is_plausible_name(field.data):
            raise ValidationError(
                _l("Nama hanya boleh berisi huruf, spasi, titik, koma, tanda petik dan tanda hubung.")
            )
        if len(normalise_name(field.data).replace(" ", "")) < MIN_NAME_LETTERS:
            raise ValidationError(_l("Nama terlalu pendek. Tulis nama lengkap sesuai KTP."))


class DesilForm(FlaskForm):
    """The desil of a person already found, for someone who also knows the person's NIK."""

    desa = HiddenField(validators=[DataRequired()])
    nama = HiddenField(validators=[DataRequired(), Length(max=MAX_NAME_LENGTH)])
    nik = StringField(
        _l("NIK (16 digit)"),
        validators=[InputRequired(_l("NIK wajib diisi.")),
                    Length(max=40, message=_l("NIK harus 16 digit angka."))],
        filters=[lambda text: "".join((text or "").split())],
    )

    def validate_nik(self, field: StringField) -> None:
        info = parse_nik(field.data)
        if info.nik is None:
            raise ValidationError(_l("NIK harus 16 digit angka."))
        if not info.valid:
            raise ValidationError(
                _l("NIK ini tidak mungkin benar: periksa lagi kode wilayah dan tanggal lahirnya.")
            )
        field.data = info.nik
