"""Flask-WTF forms: the validation of every input, with messages in Bahasa Indonesia."""

from __future__ import annotations

from collections.abc import Mapping

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.i18n import translations as wtforms_translations
from lokal import normalize_phone, parse_nik
from sqlalchemy.exc import SQLAlchemyError
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
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    Optional,
    Regexp,
    StopValidation,
    ValidationError,
)

from portal.extensions import read_session, regions
from portal.models import ComplaintKind, ContactChannel, CorrectionField, MessageChannel, NewComplaintNotice, StaffRole
from portal.services.complaints import CORRECTION_LABELS, normalise_code
from portal.services.contacts import ContactInvalid, normalise_contact
from portal.services.moderation import DECISION_LABELS
from portal.services.names import MAX_NAME_LENGTH, is_plausible_name, normalise_name
from portal.services.outages import is_database_outage
from portal.services.regions import REGION_FIELDS, RegionChoice, RegionRecord
from portal.services.staff import ROLE_LABELS
from portal.services.staff_notifications import (
    CHANNEL_LABELS,
    CONTACT_CHANNELS,
    NOTICE_LABELS,
)
from portal.services.uploads import HEIF_SUPPORTED

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


# WTForms ships no Indonesian: its own messages that a page can show are written here, in the
# catalogue like every other string. Indonesian has no plural forms, so one text serves both.
_WTFORMS_MESSAGES = {
    "This field is required.": _l("Isian ini wajib diisi."),
    "Invalid input.": _l("Isian tidak sesuai."),
    "Not a valid choice.": _l("Pilihan tidak dikenal. Pilih dari daftar."),
    "Not a valid date value.": _l("Tanggal tidak dikenali. Pilih tanggal dari kalender."),
    "Field cannot be longer than %(max)d characters.": _l("Paling banyak %(max)d karakter."),
    "Field must be at least %(min)d characters long.": _l("Paling sedikit %(min)d karakter."),
    "Field must be between %(min)d and %(max)d characters long.": _l("Harus %(min)d sampai %(max)d karakter."),
}


class _Translations:
    """WTForms' messages in the page's language: ours where written above, else WTForms' own."""

    def gettext(self, string: str) -> str:
        mine = _WTFORMS_MESSAGES.get(string)
        return str(mine) if mine is not None else wtforms_translations.gettext(string)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        mine = _WTFORMS_MESSAGES.get(plural)
        return str(mine) if mine is not None else wtforms_translations.ngettext(singular, plural, n)


_TRANSLATIONS = _Translations()


class PortalForm(FlaskForm):
    """Base of every form: text never carries NUL characters (PostgreSQL refuses them); WTForms'
    own messages follow the page's language."""

    #: The order of the fields on the page, for the error summary, where it differs from the
    #: order of declaration; fields not named here follow, and the captcha always comes last.
    summary_order: tuple[str, ...] = ()
    #: The element a summary link points to for a field that cannot take focus itself.
    summary_targets: Mapping[str, str] = {}

    def error_items(self, extra: Mapping[str, str] | None = None) -> list[tuple[str, str]]:
        """(element id, message) for each error of this form in page order; `extra` adds
        messages by field name that were found outside the form (the region chain)."""
        extra = extra or {}
        names = [*self.summary_order, *(name for name in self._fields if name not in self.summary_order)]
        names.sort(key=lambda name: name == "captcha_jawaban")  # stable: only moves the captcha last
        items: list[tuple[str, str]] = []
        for name in names:
            field = self._fields.get(name)
            if field is None:
                continue
            messages = [*field.errors, *([extra[name]] if name in extra else [])]
            target = self.summary_targets.get(name)
            if target is None:
                if field.type in ("HiddenField", "CSRFTokenField"):
                    continue  # nothing a person could correct there
                target = f"{field.id}-0" if field.type == "RadioField" else field.id
            items.extend((target, str(message)) for message in messages if (target, str(message)) not in items)
        return items

    class Meta:
        def get_translations(self, form):  # noqa: ANN001 - WTForms' signature
            return _TRANSLATIONS

        def bind_field(self, form, unbound_field, options):  # noqa: ANN001 - WTForms' signature
            options["filters"] = (_strip_nul, *options.get("filters", ()))
            return unbound_field.bind(form=form, **options)


def error_summary(*forms: PortalForm | None, extra: Mapping[str, str] | None = None) -> list[tuple[str, str]]:
    """Every error of the forms on one page, for the summary at its top (a template global)."""
    items: list[tuple[str, str]] = []
    for index, form in enumerate(f for f in forms if f is not None):
        items.extend(form.error_items(extra if index == 0 else None))
    return items


def _region_select(field_name: str) -> SelectField:
    return SelectField(_REGION_LABELS[field_name], choices=[], validate_choice=False)


class RegionForm(PortalForm):
    """Provinsi → kabupaten/kota → kecamatan → desa/kelurahan, filled step by step."""

    provinsi = _region_select("provinsi")
    kabupaten = _region_select("kabupaten")
    kecamatan = _region_select("kecamatan")
    desa = _region_select("desa")

    regions: dict[str, RegionRecord]

    def check_regions(self) -> dict[str, str]:
        """Keep the valid part of the chosen region chain in `self.regions`.

        Returns region error messages by field; a selection that does not exist or does not
        fit the one above it is cleared, and so is everything below it.
        """
        codes = {name: getattr(self, name).data or "" for name in REGION_FIELDS}
        self.regions = {}  # what `fill_region_choices` sees if the database cannot answer below
        self.regions, errors = regions().chain(read_session(), codes)
        for name in REGION_FIELDS:
            if name not in self.regions:
                getattr(self, name).data = ""
        return {name: str(_REGION_ERRORS[code]) for name, code in errors.items()}

    def fill_region_choices(self) -> bool:
        """Fill each select with the children of the region chosen above it (after `check_regions`).

        Only a page that shows the form needs this: a successful lookup skips the four queries.
        When the database cannot answer, each select keeps only the code already chosen in it
        (labelled by that code), so that a form re-shown during an outage still sends it again;
        then this returns False.
        """
        # A choice that `check_regions` could not check (the database stopped answering) has no
        # region to list children from, even where the region directory still answers from memory.
        unchecked = any(getattr(self, name).data and name not in self.regions for name in REGION_FIELDS)
        options: dict[str, list[RegionChoice]] | None = None
        if not unchecked:
            try:
                options = self._region_options()
            except SQLAlchemyError as error:
                if not is_database_outage(error):
                    raise
                read_session().rollback()
        complete = options is not None
        if options is None:
            options = {name: [RegionChoice(code, code)] if (code := getattr(self, name).data) else []
                       for name in REGION_FIELDS}
        for name in REGION_FIELDS:
            placeholder = SelectChoice("", _l("— Pilih %(level)s —", level=_REGION_LABELS[name]))
            getattr(self, name).choices = [placeholder] + [SelectChoice(o.code, o.name) for o in options[name]]
        return complete

    def _region_options(self) -> dict[str, list[RegionChoice]]:
        options: dict[str, list[RegionChoice]] = {}
        parent: str | None = None
        for name in REGION_FIELDS:
            options[name] = list(regions().children(read_session(), parent)) if name == "provinsi" or parent else []
            parent = self.regions[name].code if name in self.regions else None
        return options


_ANSWER_LABEL = _l("Ketik angka pada gambar")
_ANSWER_MISSING = _l("Ketik angka yang terlihat pada gambar.")


class CaptchaForm(PortalForm):
    """The server-side captcha: a challenge id and the typed digits."""

    captcha_id = HiddenField()
    captcha_jawaban = StringField(_ANSWER_LABEL, validators=[InputRequired(_ANSWER_MISSING)])


def check_person_name(field: StringField) -> None:
    """A person's name: letters with the punctuation names use, at least three letters."""
    if not is_plausible_name(field.data):
        raise ValidationError(_l("Nama hanya boleh berisi huruf, spasi, titik, koma, tanda petik dan tanda hubung."))
    if len(normalise_name(field.data).replace(" ", "")) < MIN_NAME_LETTERS:
        raise ValidationError(_l("Nama terlalu pendek. Tulis nama lengkap sesuai KTP."))


def _collapse_spaces(text: str | None) -> str | None:
    return " ".join(text.split()) if text else text


def _answer_unless_next_lookup(form: LookupForm, field: StringField) -> None:
    if not form.lanjutan.data and not (field.data or "").strip():
        raise StopValidation(str(_ANSWER_MISSING))


class LookupForm(RegionForm, CaptchaForm):
    #: A pass from a lookup just solved in the same desa (see routes.public.check): the next name
    #: needs no new captcha. `sisa` says how many more such passes follow; the pass is bound to it.
    lanjutan = HiddenField()
    sisa = HiddenField()
    captcha_jawaban = StringField(_ANSWER_LABEL, validators=[_answer_unless_next_lookup])
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
    #: A single-use pass from the lookup that just found this name (see routes.public.check).
    bukti = HiddenField()
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
    summary_order = ("jenis", *REGION_FIELDS, "subjek_nama", "subjek_nik", "subjek_rt", "subjek_rw",
                     "perbaikan_bagian", "perbaikan_nilai", "uraian", "foto", "lintang", "bujur")
    summary_targets = {"lintang": "lokasi-tombol", "bujur": "lokasi-tombol"}

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
                 *(SelectChoice(field.value, _l(label)) for field, label in CORRECTION_LABELS.items())],
        validate_choice=False,  # checked below, with a message in Bahasa Indonesia
        default="",
    )
    perbaikan_nilai = StringField(_l("Data yang benar"), validators=[Length(max=200)], filters=[_collapse_spaces])
    uraian = TextAreaField(
        _l("Uraian"),
        validators=[InputRequired(_l("Uraian wajib diisi.")),
                    Length(min=20, max=2000, message=_l("Uraian 20 sampai 2.000 huruf."))],
    )
    # The label names the formats the server decodes (HEIC only with pillow-heif installed).
    foto = MultipleFileField(_l("Foto bukti (paling banyak 3: JPEG, PNG, WebP atau HEIC)") if HEIF_SUPPORTED
                             else _l("Foto bukti (paling banyak 3: JPEG, PNG atau WebP)"))
    #: The form's pending-upload token: the photos chosen in earlier rounds (see services.uploads).
    unggahan = HiddenField()
    lintang = HiddenField()
    bujur = HiddenField()
    persetujuan = BooleanField(
        _l("Saya setuju data ini diproses untuk menangani aduan, sesuai UU No. 27 Tahun 2022 "
           "tentang Pelindungan Data Pribadi."),
        validators=[DataRequired(_l("Persetujuan diperlukan agar aduan dapat diproses."))],
    )
    # "Kabari saya": news of the complaint by SMS, WhatsApp or e-mail, only with explicit consent.
    kabar_saluran = RadioField(
        _l("Kabari saya lewat"),
        choices=[SelectChoice("", _l("Tidak usah")), SelectChoice(ContactChannel.SMS.value, _l("SMS")),
                 SelectChoice(ContactChannel.WHATSAPP.value, _l("WhatsApp")),
                 SelectChoice(ContactChannel.EMAIL.value, _l("E-mail"))],
        default="", validate_choice=False,  # checked below, with a message in Bahasa Indonesia
    )
    kabar_alamat = StringField(_l("Nomor HP atau alamat e-mail untuk kabar"), validators=[Length(max=254)])
    kabar_setuju = BooleanField(
        _l("Saya setuju menerima kabar tentang aduan ini di nomor atau alamat tersebut. Saya dapat berhenti "
           "kapan saja lewat tautan di setiap pesan.")
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

    def validate_kabar_saluran(self, field: RadioField) -> None:
        if field.data not in set(ContactChannel):
            field.data = ""
        if not field.data and (self.kabar_alamat.data or "").strip():
            raise ValidationError(_l("Pilih SMS, WhatsApp atau e-mail untuk kabar, atau kosongkan nomor/alamatnya."))

    def validate_kabar_alamat(self, field: StringField) -> None:
        if self.kabar_saluran.data not in set(ContactChannel):
            return
        if not (field.data or "").strip():
            raise ValidationError(_l("Tulis nomor HP atau alamat e-mail untuk kabar."))
        try:  # what was typed stays in the field; the route stores the normalised form
            normalise_contact(ContactChannel(self.kabar_saluran.data), field.data)
        except ContactInvalid as refused:
            raise ValidationError(_l(refused.message)) from None

    def validate_kabar_setuju(self, field: BooleanField) -> None:
        if self.kabar_saluran.data in set(ContactChannel) and not field.data:
            raise ValidationError(_l("Centang persetujuan agar kami boleh mengirim kabar, atau pilih Tidak usah."))

    def validate_perbaikan_bagian(self, field: SelectField) -> None:
        if field.data and field.data not in set(CorrectionField):
            field.data = ""
        if self.jenis.data == ComplaintKind.PERBAIKAN.value and not field.data:
            raise ValidationError(_l("Pilih data yang salah."))

    def chosen_photos(self) -> list[FileStorage]:
        """The files chosen in this round (their number is checked with those kept before)."""
        return [f for f in self.foto.data or [] if isinstance(f, FileStorage) and f.filename]

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

    def validate_kode(self, field: StringField) -> None:
        code = normalise_code(field.data)
        if code is None:
            raise ValidationError(_l("Kode aduan berbentuk ADU-XXXX-XXXX: ADU lalu 8 huruf atau angka, "
                                     "seperti pada tanda terima."))
        field.data = code


class LostCodeForm(CaptchaForm):
    """A lost tracking code: the phone number or e-mail address given for news when filing."""

    kontak = StringField(
        _l("Nomor HP atau alamat e-mail yang Anda tulis untuk kabar saat mengadu"),
        validators=[InputRequired(_l("Tulis nomor HP atau alamat e-mail.")), Length(max=254)],
    )

    def validate_kontak(self, field: StringField) -> None:
        from portal.services.code_resend import contact_of

        try:  # what was typed stays in the field; the route normalises it again
            contact_of(field.data)
        except ContactInvalid as refused:
            raise ValidationError(_l(refused.message)) from None


class StopNewsForm(PortalForm):
    """Confirms a stop link from a message: nothing but the CSRF token."""


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
    note = TextAreaField(_l("Catatan"), validators=[Length(max=2000)], id="catatan-status")


class NoteForm(PortalForm):
    note = TextAreaField(_l("Catatan internal"), validators=[InputRequired(_l("Tulis catatannya.")),
                                                             Length(max=2000)], id="catatan-internal")


class MusdesForm(PortalForm):
    held_on = DateField(_l("Tanggal musyawarah"), validators=[InputRequired(_l("Isi tanggal musyawarah."))])
    decision = SelectField(_l("Keputusan"), choices=[
        SelectChoice(decision.value, _l(label)) for decision, label in DECISION_LABELS.items()
    ])
    note = TextAreaField(_l("Ringkasan"), validators=[Length(max=2000)], id="ringkasan-musdes")
    minutes = FileField(_l("Foto berita acara (tidak wajib)"))


class AccountForm(PortalForm):
    username = StringField(_l("Nama pengguna"), validators=[InputRequired(), Length(max=40)])
    role = SelectField(_l("Peran"), choices=[
        SelectChoice(role.value, _l(label)) for role, label in ROLE_LABELS.items() if role != StaffRole.ADMIN
    ])
    region = StringField(_l("Kode wilayah"), validators=[InputRequired(), Length(max=13)])


class StaffNoticeForm(PortalForm):
    """Where and what a staff member hears (services.staff_notifications)."""

    saluran = SelectField(_l("Kirim lewat"), choices=[SelectChoice("", _l("Jangan kirim apa pun"))] + [
        SelectChoice(channel.value, _l(CHANNEL_LABELS[channel])) for channel in CONTACT_CHANNELS
    ])
    alamat = StringField(_l("Nomor HP atau alamat e-mail"), validators=[Length(max=200)])
    baru = RadioField(_l("Aduan baru di wilayah Anda"), default=NewComplaintNotice.TIDAK.value, choices=[
        SelectChoice(notice.value, _l(label)) for notice, label in NOTICE_LABELS.items()
    ])
    lewat_waktu = BooleanField(_l("Daftar harian aduan yang lewat waktu"))
    #: The channel of the address already stored: with it chosen, an empty address keeps that address.
    stored_channel: str | None = None

    def validate_alamat(self, field: StringField) -> None:
        if not self.saluran.data:
            field.data = ""
            return
        if not (field.data or "").strip():
            if self.saluran.data == self.stored_channel:
                field.data = ""
                return
            raise ValidationError(_l("Isi nomor HP atau alamat e-mail tujuan kabar."))
        try:
            field.data = normalise_contact(MessageChannel(self.saluran.data), field.data)
        except ContactInvalid as refused:
            raise ValidationError(_l(refused.message)) from None
