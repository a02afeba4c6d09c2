"""Flask-WTF forms: the validation of every input, with messages in Bahasa Indonesia."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from lokal import normalize_phone, parse_nik
from werkzeug.datastructures import FileStorage
from wtforms import (
    BooleanField,
    DateField,
    FileField,
    HiddenField,
    MultipleFileField,
    PasswordField,
    RadioField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, Optional, Regexp, ValidationError

from portal.extensions import db
from portal.models import ComplaintKind, CorrectionField, MusdesDecision, Region, StaffRole
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
MAX_PHOTOS = 3


def _strip_nul(text: object) -> object:
    return text.replace("\x00", "") if isinstance(text, str) else text


class PortalForm(FlaskForm):
    """Base of every form: text never carries NUL characters (PostgreSQL refuses them)."""

    class Meta:
        def bind_field(self, form, unbound_field, options):  # noqa: ANN001 - WTForms' signature
            options["filters"] = (_strip_nul, *options.get("filters", ()))
            return unbound_field.bind(form=form, **options)


def _region_select(field_name: str) -> SelectField:
    return SelectField(_REGION_LABELS[field_name], choices=[], validate_choice=False)


class RegionForm(PortalForm):
    """Provinsi → kabupaten/kota → kecamatan → desa/kelurahan, filled step by step."""

    provinsi = _region_select("provinsi")
    kabupaten = _region_select("kabupaten")
    kecamatan = _region_select("kecamatan")
    desa = _region_select("desa")

    regions: dict[str, Region]

    def check_regions(self) -> dict[str, str]:
        """Keep the valid part of the chosen region chain in `self.regions`.

        Returns region error messages by field; a selection that does not exist or does not
        fit the one above it is cleared, and so is everything below it.
        """
        codes = {name: getattr(self, name).data or "" for name in REGION_FIELDS}
        self.regions, errors = region_chain(db.session, codes)
        for name in REGION_FIELDS:
            if name not in self.regions:
                getattr(self, name).data = ""
        return {name: str(_REGION_ERRORS[code]) for name, code in errors.items()}

    def fill_region_choices(self) -> None:
        """Fill each select with the children of the region chosen above it (after `check_regions`).

        Only a page that shows the form needs this: a successful lookup skips the four queries.
        """
        parent: str | None = None
        for name in REGION_FIELDS:
            options = children_of(db.session, parent) if name == "provinsi" or parent else []
            placeholder = SelectChoice("", _l("— Pilih %(level)s —", level=_REGION_LABELS[name]))
            getattr(self, name).choices = [placeholder] + [SelectChoice(o.code, o.name) for o in options]
            parent = self.regions[name].code if name in self.regions else None


class CaptchaForm(PortalForm):
    """The server-side captcha: a challenge id and the typed digits."""

    captcha_id = HiddenField()
    captcha_jawaban = StringField(
        _l("Ketik angka pada gambar"),
        validators=[InputRequired(_l("Ketik angka yang terlihat pada gambar."))],
    )


def check_person_name(field: StringField) -> None:
    """A person's name: letters with the punctuation names use, at least three letters."""
    if not is_plausible_name(field.data):
        raise ValidationError(_l("Nama hanya boleh berisi huruf, spasi, titik, koma, tanda petik dan tanda hubung."))
    if len(normalise_name(field.data).replace(" ", "")) < MIN_NAME_LETTERS:
        raise ValidationError(_l("Nama terlalu pendek. Tulis nama lengkap sesuai KTP."))


def _collapse_spaces(text: str | None) -> str | None:
    return " ".join(text.split()) if text else text


class LookupForm(RegionForm, CaptchaForm):
    nama = StringField(
        _l("Nama lengkap sesuai KTP"),
        validators=[
            InputRequired(_l("Nama wajib diisi.")),
            Length(max=MAX_NAME_LENGTH,
                   message=_l("Nama terlalu panjang (paling banyak %(max)d huruf).", max=MAX_NAME_LENGTH)),
        ],
        filters=[_collapse_spaces],
    )

    def validate_nama(self, field: StringField) -> None:
        check_person_name(field)


class DesilForm(PortalForm):
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


def _nik_problem(text: str) -> str | None:
    """Why a typed NIK cannot be right, in words a resident understands; None when it can."""
    info = parse_nik(text)
    if info.nik is None:
        return str(_l("NIK harus 16 digit angka (sekarang %(n)d digit).", n=sum(ch.isdigit() for ch in text)))
    codes = {issue.code for issue in info.errors}
    if codes & {"province", "wilayah"}:
        return str(_l("Kode wilayah pada NIK (6 digit pertama) tidak dikenal."))
    if "birth_date" in codes:
        return str(_l("Tanggal lahir pada NIK (digit ke-7 sampai ke-12) tidak mungkin."))
    if codes:
        return str(_l("Nomor urut NIK (4 digit terakhir) tidak boleh 0000."))
    return None


def _digits_only(text: str | None) -> str:
    return "".join((text or "").split()).replace(".", "").replace("-", "")


class ComplaintForm(RegionForm, CaptchaForm):
    """Usul, sanggah or perbaikan data, with up to three photos."""

    max_photos = MAX_PHOTOS  # for the page's own check before sending

    jenis = RadioField(
        _l("Jenis aduan"),
        choices=[
            SelectChoice(ComplaintKind.USUL.value, _l("Usul: orang yang layak belum terdaftar")),
            SelectChoice(ComplaintKind.SANGGAH.value, _l("Sanggah: penerima yang tidak layak")),
            SelectChoice(ComplaintKind.PERBAIKAN.value, _l("Perbaikan: data seseorang salah")),
        ],
        validators=[InputRequired(_l("Pilih jenis aduan."))],
    )
    pelapor_nama = StringField(
        _l("Nama Anda (pelapor)"),
        validators=[InputRequired(_l("Nama pelapor wajib diisi.")), Length(max=MAX_NAME_LENGTH)],
        filters=[_collapse_spaces],
    )
    pelapor_nik = StringField(
        _l("NIK Anda"), validators=[InputRequired(_l("NIK pelapor wajib diisi.")), Length(max=40)],
        filters=[_digits_only],
    )
    pelapor_hp = StringField(_l("Nomor HP (tidak wajib)"), validators=[Optional(), Length(max=25)])
    subjek_nama = StringField(
        _l("Nama orang yang diadukan/diusulkan"),
        validators=[InputRequired(_l("Nama orang yang diadukan wajib diisi.")), Length(max=MAX_NAME_LENGTH)],
        filters=[_collapse_spaces],
    )
    subjek_nik = StringField(_l("NIK orang tersebut (jika tahu)"), validators=[Length(max=40)],
                             filters=[_digits_only])
    subjek_rt = StringField(_l("RT"), validators=[Optional(), Regexp(r"^\d{1,3}$", message=_l("RT berupa angka."))])
    subjek_rw = StringField(_l("RW"), validators=[Optional(), Regexp(r"^\d{1,3}$", message=_l("RW berupa angka."))])
    perbaikan_bagian = SelectField(
        _l("Data yang salah"),
        choices=[SelectChoice("", _l("— Pilih —")),
                 SelectChoice(CorrectionField.NAMA.value, _l("Ejaan nama")),
                 SelectChoice(CorrectionField.NIK.value, _l("NIK")),
                 SelectChoice(CorrectionField.MENINGGAL.value, _l("Sudah meninggal")),
                 SelectChoice(CorrectionField.PINDAH.value, _l("Sudah pindah")),
                 SelectChoice(CorrectionField.SUSUNAN_KELUARGA.value, _l("Susunan keluarga")),
                 SelectChoice(CorrectionField.DESIL.value, _l("Desil tidak sesuai")),
                 SelectChoice(CorrectionField.LAINNYA.value, _l("Lainnya"))],
        validate_choice=False,  # checked below, with a message in Bahasa Indonesia
        default="",
    )
    perbaikan_nilai = StringField(_l("Data yang benar"), validators=[Length(max=200)], filters=[_collapse_spaces])
    uraian = TextAreaField(
        _l("Uraian"),
        validators=[InputRequired(_l("Uraian wajib diisi.")),
                    Length(min=20, max=2000, message=_l("Uraian 20 sampai 2.000 huruf."))],
    )
    foto = MultipleFileField(_l("Foto bukti (paling banyak 3: JPEG, PNG atau WebP)"))
    lintang = HiddenField()
    bujur = HiddenField()
    persetujuan = BooleanField(
        _l("Saya setuju data ini diproses untuk menangani aduan, sesuai UU No. 27 Tahun 2022 "
           "tentang Pelindungan Data Pribadi."),
        validators=[DataRequired(_l("Persetujuan diperlukan agar aduan dapat diproses."))],
    )
    token = HiddenField()

    def validate_pelapor_nama(self, field: StringField) -> None:
        check_person_name(field)

    validate_subjek_nama = validate_pelapor_nama

    def validate_pelapor_nik(self, field: StringField) -> None:
        if problem := _nik_problem(field.data):
            raise ValidationError(problem)

    def validate_subjek_nik(self, field: StringField) -> None:
        if field.data and (problem := _nik_problem(field.data)):
            raise ValidationError(problem)

    def validate_pelapor_hp(self, field: StringField) -> None:
        phone = normalize_phone(field.data)
        if not phone or not phone.startswith("+62"):
            raise ValidationError(_l("Nomor HP tidak dikenali. Contoh: 0812 3456 7890."))
        field.data = phone

    def validate_perbaikan_bagian(self, field: SelectField) -> None:
        if field.data and field.data not in set(CorrectionField):
            field.data = ""
        if self.jenis.data == ComplaintKind.PERBAIKAN.value and not field.data:
            raise ValidationError(_l("Pilih data yang salah."))

    def validate_foto(self, field: MultipleFileField) -> None:
        files = [f for f in field.data or [] if isinstance(f, FileStorage) and f.filename]
        if len(files) > MAX_PHOTOS:
            raise ValidationError(_l("Paling banyak %(n)d foto.", n=MAX_PHOTOS))
        field.data = files

    def validate_lintang(self, field: HiddenField) -> None:
        self._coordinate(field, -11.5, 6.5)

    def validate_bujur(self, field: HiddenField) -> None:
        self._coordinate(field, 94.5, 141.5)

    @staticmethod
    def _coordinate(field: HiddenField, low: float, high: float) -> None:
        if not field.data:
            field.data = None
            return
        try:
            value = float(field.data)
        except ValueError:
            value = float("nan")
        if not low <= value <= high:
            raise ValidationError(_l("Lokasi di luar wilayah Indonesia; hapus lalu coba lagi."))
        field.data = round(value, 6)


class TrackForm(PortalForm):
    kode = StringField(_l("Kode aduan"), validators=[InputRequired(_l("Ketik kode aduan.")), Length(max=40)])


class ReopenForm(PortalForm):
    kode = HiddenField(validators=[InputRequired(), Length(max=40)])
    komentar = TextAreaField(
        _l("Mengapa belum selesai?"),
        validators=[InputRequired(_l("Tulis alasannya.")),
                    Length(min=10, max=1000, message=_l("Alasan 10 sampai 1.000 huruf."))],
    )


# -- staff ------------------------------------------------------------------------------------


class LoginForm(PortalForm):
    username = StringField(_l("Nama pengguna"), validators=[InputRequired(_l("Isi nama pengguna.")), Length(max=40)])
    password = PasswordField(_l("Kata sandi"), validators=[InputRequired(_l("Isi kata sandi.")), Length(max=200)])


class TwoFactorForm(PortalForm):
    kode = StringField(_l("Kode verifikasi"), validators=[InputRequired(_l("Ketik kode dari aplikasi autentikator.")),
                                                         Length(max=40)])


class MoveForm(PortalForm):
    to = HiddenField(validators=[InputRequired()])
    version = HiddenField(validators=[InputRequired(), Regexp(r"^\d{1,9}$")])
    note = TextAreaField(_l("Catatan"), validators=[Length(max=2000)])


class NoteForm(PortalForm):
    note = TextAreaField(_l("Catatan internal"), validators=[InputRequired(_l("Tulis catatannya.")),
                                                             Length(max=2000)])


class MusdesForm(PortalForm):
    held_on = DateField(_l("Tanggal musyawarah"), validators=[InputRequired(_l("Isi tanggal musyawarah."))])
    decision = SelectField(_l("Keputusan"), choices=[
        SelectChoice(MusdesDecision.DISETUJUI.value, _l("Disetujui")),
        SelectChoice(MusdesDecision.DITOLAK.value, _l("Ditolak")),
        SelectChoice(MusdesDecision.DITUNDA.value, _l("Ditunda")),
    ])
    note = TextAreaField(_l("Ringkasan"), validators=[Length(max=2000)])
    minutes = FileField(_l("Foto berita acara (tidak wajib)"))


class AccountForm(PortalForm):
    username = StringField(_l("Nama pengguna"), validators=[InputRequired(), Length(max=40)])
    role = SelectField(_l("Peran"), choices=[
        SelectChoice(StaffRole.DESA.value, _l("Operator desa/kelurahan")),
        SelectChoice(StaffRole.KECAMATAN.value, _l("Kecamatan")),
        SelectChoice(StaffRole.KABUPATEN.value, _l("Dinas Sosial kabupaten/kota")),
    ])
    region = StringField(_l("Kode wilayah"), validators=[InputRequired(), Length(max=13)])
