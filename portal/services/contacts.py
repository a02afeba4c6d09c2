"""Phone numbers and e-mail addresses that messages go to: one normalised form for everyone.

A complainant's "Kabari saya" contact and a staff member's notice contact are checked and stored
the same way: a mobile number as `+628…`, an e-mail address in lower case. The normalised form is
what is encrypted, sent to and (for complainants) hashed for matching.
"""

from __future__ import annotations

import re
from enum import StrEnum

from lokal import normalize_phone

from portal.i18n import N_, UserFacingError

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?"
_EMAIL = re.compile(rf"^[^@\s]{{1,64}}@{_LABEL}(?:\.{_LABEL})+$")
_MOBILE = re.compile(r"^\+628\d{7,11}$")


class ContactInvalid(UserFacingError):
    """A contact that cannot receive messages on its channel; `message` is for the user."""


def normalise_contact(channel: StrEnum | str, typed: str) -> str:
    """The contact as stored and sent to, for a channel `sms`, `whatsapp` or `email` (a
    ContactChannel or a MessageChannel). Raises `ContactInvalid` when it is not one."""
    text = (typed or "").strip()
    if str(channel) == "email":
        if len(text) > 254 or not _EMAIL.match(text):
            raise ContactInvalid(N_("Alamat e-mail tidak dikenali. Contoh: nama@contoh.id."))
        return text.lower()
    phone = normalize_phone(text)
    if not phone or not _MOBILE.match(phone):
        raise ContactInvalid(N_("Nomor HP seluler tidak dikenali. Tulis mulai 08… atau +62…, "
                                "contoh 0812 3456 7890."))
    return phone
