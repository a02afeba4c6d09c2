"""Encryption and keyed hashing of NIK/KK numbers."""

import base64

import pytest
from cryptography.exceptions import InvalidTag

from portal.services.pii import PiiKeyError, PiiVault, mask_number

KEY = base64.b64encode(bytes(range(32))).decode()
NIK = "3204054103850001"


def test_round_trip_without_the_number_in_the_ciphertext():
    vault = PiiVault(KEY)
    blob = vault.encrypt(NIK, "nik")
    assert NIK.encode() not in blob
    assert vault.decrypt(blob, "nik") == NIK
    assert vault.encrypt(NIK, "nik") != blob  # a fresh nonce every time


def test_a_ciphertext_cannot_be_read_as_another_field_or_with_another_key():
    blob = PiiVault(KEY).encrypt(NIK, "nik")
    with pytest.raises(InvalidTag):
        PiiVault(KEY).decrypt(blob, "kk")
    with pytest.raises(InvalidTag):
        PiiVault(base64.b64encode(bytes(32)).decode()).decrypt(blob, "nik")


def test_digest_is_stable_and_keyed():
    assert PiiVault(KEY).digest(NIK) == PiiVault(KEY).digest(NIK)
    assert PiiVault(KEY).digest(NIK) != PiiVault(base64.b64encode(bytes(32)).decode()).digest(NIK)


@pytest.mark.parametrize("key", ["not base64!", base64.b64encode(b"short").decode()])
def test_bad_keys_are_refused(key):
    with pytest.raises(PiiKeyError):
        PiiVault(key)


def test_mask_number():
    assert mask_number(NIK) == "3204********0001"
