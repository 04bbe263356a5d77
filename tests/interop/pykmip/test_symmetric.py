"""Symmetric keys through ProxyKmipClient: create, register, get, encrypt/decrypt, MAC, rekey,
derive."""

import hashlib
import hmac
import os

import pytest
from cryptography.hazmat.primitives import padding as sympadding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from kmip.core import enums
from kmip.core.factories.attributes import AttributeFactory
from kmip.pie import objects

from conftest import (LIFECYCLE_REFUSALS, V12, attribute_map, cleanup, create_aes,
                      kmip_failure, unique, version_id)

CBC_PKCS5 = {
    "cryptographic_algorithm": enums.CryptographicAlgorithm.AES,
    "block_cipher_mode": enums.BlockCipherMode.CBC,
    "padding_method": enums.PaddingMethod.PKCS5,
}
U = enums.CryptographicUsageMask


def register_aes(client, value, name=None, masks=(U.ENCRYPT, U.DECRYPT), activate=True):
    key = objects.SymmetricKey(enums.CryptographicAlgorithm.AES, len(value) * 8, value,
                               masks=list(masks), name=name or unique("aes"))
    uid = client.register(key)
    if activate:
        client.activate(uid)
    return uid


@pytest.mark.parametrize("length", [128, 256])
def test_create_then_get_returns_a_symmetric_key_of_the_right_length(client, length):
    uid = client.create(enums.CryptographicAlgorithm.AES, length, name=unique())
    key = client.get(uid)
    assert isinstance(key, objects.SymmetricKey)
    assert key.cryptographic_algorithm == enums.CryptographicAlgorithm.AES
    assert key.cryptographic_length == length
    assert len(key.value) == length // 8
    assert key.key_format_type == enums.KeyFormatType.RAW
    assert key.value != bytes(length // 8)


def test_two_created_keys_differ(client):
    a = client.get(client.create(enums.CryptographicAlgorithm.AES, 256))
    b = client.get(client.create(enums.CryptographicAlgorithm.AES, 256))
    assert a.value != b.value


def test_register_then_get_returns_the_registered_bytes_exactly(client):
    value = os.urandom(32)
    uid = register_aes(client, value, activate=False)
    key = client.get(uid)
    assert isinstance(key, objects.SymmetricKey)
    assert key.value == value
    assert key.cryptographic_length == 256
    assert key.cryptographic_algorithm == enums.CryptographicAlgorithm.AES


def test_created_key_attributes(client):
    name = unique()
    uid = client.create(enums.CryptographicAlgorithm.AES, 256, name=name)
    got_uid, attrs = client.get_attributes(uid, [
        "Unique Identifier", "Object Type", "Cryptographic Algorithm", "Cryptographic Length",
        "State", "Initial Date", "Name", "Cryptographic Usage Mask"])
    assert got_uid == uid
    m = attribute_map(attrs)
    assert m["Unique Identifier"] == [uid]
    assert m["Object Type"] == [enums.ObjectType.SYMMETRIC_KEY]
    assert m["Cryptographic Algorithm"] == [enums.CryptographicAlgorithm.AES]
    assert m["Cryptographic Length"] == [256]
    assert m["State"] == [enums.State.PRE_ACTIVE]
    assert m["Name"] == [name]
    assert len(m["Initial Date"]) == 1 and m["Initial Date"][0] > 1_600_000_000
    # pie always asks for Encrypt | Decrypt.
    assert m["Cryptographic Usage Mask"][0] & (U.ENCRYPT.value | U.DECRYPT.value) == \
        U.ENCRYPT.value | U.DECRYPT.value


def test_activate_moves_the_key_to_active(client):
    uid = client.create(enums.CryptographicAlgorithm.AES, 256)
    client.activate(uid)
    _, attrs = client.get_attributes(uid, ["State", "Activation Date"])
    m = attribute_map(attrs)
    assert m["State"] == [enums.State.ACTIVE]
    assert len(m.get("Activation Date", [])) == 1


@pytest.mark.parametrize("version", V12, ids=version_id)
def test_encrypt_decrypt_cbc_pkcs5_with_given_iv(client):
    value = os.urandom(32)
    uid = register_aes(client, value)
    iv = os.urandom(16)
    plaintext = b"interoperability is the acceptance" * 3
    ciphertext, returned_iv = client.encrypt(plaintext, uid=uid,
                                             cryptographic_parameters=CBC_PKCS5,
                                             iv_counter_nonce=iv)
    assert returned_iv in (None, iv)
    # Check against a local AES-CBC with PKCS#7 (PKCS5) padding.
    padder = sympadding.PKCS7(128).padder()
    enc = Cipher(algorithms.AES(value), modes.CBC(iv)).encryptor()
    expected = enc.update(padder.update(plaintext) + padder.finalize()) + enc.finalize()
    assert ciphertext == expected
    assert client.decrypt(ciphertext, uid=uid, cryptographic_parameters=CBC_PKCS5,
                          iv_counter_nonce=iv) == plaintext


@pytest.mark.parametrize("version", V12, ids=version_id)
def test_encrypt_cbc_with_server_generated_iv(client):
    uid = create_aes(client)
    params = dict(CBC_PKCS5, random_iv=True)
    plaintext = b"sixteen byte msg"
    ciphertext, iv = client.encrypt(plaintext, uid=uid, cryptographic_parameters=params)
    assert iv is not None and len(iv) == 16
    assert len(ciphertext) == 32  # one block of data + one block of padding
    assert client.decrypt(ciphertext, uid=uid, cryptographic_parameters=CBC_PKCS5,
                          iv_counter_nonce=iv) == plaintext


@pytest.mark.parametrize("version", V12, ids=version_id)
def test_encrypt_decrypt_with_default_parameters_round_trips(client):
    """No Cryptographic Parameters: CBC with PKCS5 padding and a server-chosen IV, which
    ProxyKmipClient returns and decrypt() takes back (it would drop a GCM tag)."""
    value = os.urandom(32)
    uid = register_aes(client, value)
    plaintext = b"secret data 1234"
    ciphertext, iv = client.encrypt(plaintext, uid=uid)
    assert iv is not None and len(iv) == 16
    padder = sympadding.PKCS7(128).padder()
    enc = Cipher(algorithms.AES(value), modes.CBC(iv)).encryptor()
    assert ciphertext == enc.update(padder.update(plaintext) + padder.finalize()) + \
        enc.finalize()
    assert client.decrypt(ciphertext, uid=uid, iv_counter_nonce=iv) == plaintext
    # A created key too, and parameters naming only the algorithm get the same defaults.
    uid = create_aes(client)
    aes = {"cryptographic_algorithm": enums.CryptographicAlgorithm.AES}
    ciphertext, iv = client.encrypt(plaintext, uid=uid, cryptographic_parameters=aes)
    assert len(ciphertext) == 32 and len(iv) == 16
    assert client.decrypt(ciphertext, uid=uid, iv_counter_nonce=iv) == plaintext
    assert client.decrypt(ciphertext, uid=uid, cryptographic_parameters=CBC_PKCS5,
                          iv_counter_nonce=iv) == plaintext


@pytest.mark.parametrize("version", V12, ids=version_id)
def test_decrypt_with_wrong_key_fails_or_garbles(client):
    a = create_aes(client)
    b = create_aes(client)
    iv = os.urandom(16)
    ciphertext, _ = client.encrypt(b"secret message!!", uid=a,
                                   cryptographic_parameters=CBC_PKCS5, iv_counter_nonce=iv)
    try:
        out = client.decrypt(ciphertext, uid=b, cryptographic_parameters=CBC_PKCS5,
                             iv_counter_nonce=iv)
    except Exception:
        return
    assert out != b"secret message!!"


@pytest.mark.parametrize("version", V12, ids=version_id)
def test_encrypt_with_a_pre_active_key_fails(client):
    uid = client.create(enums.CryptographicAlgorithm.AES, 256)
    with kmip_failure(*LIFECYCLE_REFUSALS):
        client.encrypt(b"data", uid=uid, cryptographic_parameters=CBC_PKCS5,
                       iv_counter_nonce=os.urandom(16))


@pytest.mark.parametrize("version", V12, ids=version_id)
def test_encrypt_with_a_revoked_key_fails(client):
    uid = create_aes(client)
    client.revoke(enums.RevocationReasonCode.CESSATION_OF_OPERATION, uid)
    with kmip_failure(*LIFECYCLE_REFUSALS):
        client.encrypt(b"data", uid=uid, cryptographic_parameters=CBC_PKCS5,
                       iv_counter_nonce=os.urandom(16))


@pytest.mark.parametrize("version", V12, ids=version_id)
def test_mac_hmac_sha256_matches_python_hmac(client):
    value = os.urandom(32)
    key = objects.SymmetricKey(enums.CryptographicAlgorithm.HMAC_SHA256, 256, value,
                               masks=[U.MAC_GENERATE, U.MAC_VERIFY], name=unique("hmac"))
    uid = client.register(key)
    client.activate(uid)
    data = b"message to authenticate" * 10
    got_uid, mac = client.mac(data, uid=uid,
                              algorithm=enums.CryptographicAlgorithm.HMAC_SHA256)
    assert got_uid == uid
    assert mac == hmac.new(value, data, hashlib.sha256).digest()


@pytest.mark.parametrize("version", V12, ids=version_id)
def test_created_hmac_key_macs(client):
    uid = client.create(enums.CryptographicAlgorithm.HMAC_SHA256, 256,
                        cryptographic_usage_mask=[U.MAC_GENERATE])
    client.activate(uid)
    value = client.get(uid).value
    _, mac = client.mac(b"abc", uid=uid, algorithm=enums.CryptographicAlgorithm.HMAC_SHA256)
    assert mac == hmac.new(value, b"abc", hashlib.sha256).digest()


def test_rekey_returns_a_new_key_with_the_same_algorithm_and_length(client):
    uid = create_aes(client, name=unique())
    old = client.get(uid)
    new_uid = client.rekey(uid=uid)
    assert new_uid and new_uid != uid
    new = client.get(new_uid)
    assert isinstance(new, objects.SymmetricKey)
    assert new.cryptographic_length == 256
    assert new.value != old.value
    cleanup(client, uid, new_uid)


def test_rekey_moves_the_names_and_keeps_the_mask(client):
    name = unique("rekey")
    uid = client.create(enums.CryptographicAlgorithm.AES, 256, name=name,
                        cryptographic_usage_mask=[U.MAC_GENERATE])
    client.activate(uid)
    new_uid = client.rekey(uid=uid)
    _, attrs = client.get_attributes(new_uid, ["Name", "State", "Cryptographic Usage Mask"])
    m = attribute_map(attrs)
    # The replacement takes over the name (KMIP Re-key) and keeps the attributes.
    assert m["Name"] == [name]
    assert m["State"] == [enums.State.ACTIVE]
    assert m["Cryptographic Usage Mask"] == [U.ENCRYPT.value | U.DECRYPT.value |
                                             U.MAC_GENERATE.value]
    _, attrs = client.get_attributes(uid, ["Name", "State"])
    m = attribute_map(attrs)
    assert "Name" not in m
    assert m["State"] == [enums.State.ACTIVE]
    assert client.locate(attributes=[
        AttributeFactory().create_attribute(enums.AttributeType.NAME, name)]) == [new_uid]


def test_rekey_with_an_offset_or_dates(client):
    import time
    uid = create_aes(client, name=unique())
    new_uid = client.rekey(uid=uid, offset=3600)
    _, attrs = client.get_attributes(new_uid, ["State", "Activation Date"])
    m = attribute_map(attrs)
    assert m["State"] == [enums.State.PRE_ACTIVE]
    assert abs(m["Activation Date"][0] - (int(time.time()) + 3600)) < 60
    activation = int(time.time()) + 7200
    third = client.rekey(uid=new_uid, activation_date=activation)
    _, attrs = client.get_attributes(third, ["Activation Date"])
    assert attribute_map(attrs)["Activation Date"] == [activation]


def test_derive_key_makes_secret_data(client):
    password = b"correct horse battery staple"
    base = client.register(objects.SecretData(password, enums.SecretDataType.PASSWORD,
                                              masks=[U.DERIVE_KEY], name=unique("pw")))
    client.activate(base)
    salt = os.urandom(16)
    uid = client.derive_key(
        enums.ObjectType.SECRET_DATA, [base], enums.DerivationMethod.PBKDF2,
        {"cryptographic_parameters": {"hashing_algorithm": enums.HashingAlgorithm.SHA_256},
         "salt": salt, "iteration_count": 1000},
        cryptographic_length=384)
    secret = client.get(uid)
    assert isinstance(secret, objects.SecretData)
    assert secret.value == hashlib.pbkdf2_hmac("sha256", password, salt, 1000, 48)


def test_derive_key_pbkdf2_matches_python(client):
    password = b"correct horse battery staple"
    secret = objects.SecretData(password, enums.SecretDataType.PASSWORD,
                                masks=[U.DERIVE_KEY], name=unique("pw"))
    base = client.register(secret)
    client.activate(base)
    salt = os.urandom(16)
    uid = client.derive_key(
        enums.ObjectType.SYMMETRIC_KEY, [base], enums.DerivationMethod.PBKDF2,
        {"cryptographic_parameters": {"hashing_algorithm": enums.HashingAlgorithm.SHA_256},
         "salt": salt, "iteration_count": 1000},
        cryptographic_algorithm=enums.CryptographicAlgorithm.AES, cryptographic_length=256)
    key = client.get(uid)
    assert isinstance(key, objects.SymmetricKey)
    assert key.cryptographic_length == 256
    assert key.value == hashlib.pbkdf2_hmac("sha256", password, salt, 1000, 32)


@pytest.mark.parametrize("method", [enums.DerivationMethod.HMAC,
                                    enums.DerivationMethod.NIST800_108_C])
def test_derive_key_is_deterministic(client, method):
    base = register_aes(client, os.urandom(32), masks=(U.DERIVE_KEY,))
    params = {"cryptographic_parameters": {"hashing_algorithm": enums.HashingAlgorithm.SHA_256},
              "derivation_data": b"label-and-context", "salt": b"salt"}
    if method == enums.DerivationMethod.NIST800_108_C:
        params.pop("salt")

    def derive(p):
        uid = client.derive_key(enums.ObjectType.SYMMETRIC_KEY, [base], method, p,
                                cryptographic_algorithm=enums.CryptographicAlgorithm.AES,
                                cryptographic_length=128)
        key = client.get(uid)
        assert key.cryptographic_length == 128 and len(key.value) == 16
        return key.value

    first = derive(params)
    assert derive(params) == first
    other = dict(params, derivation_data=b"another-context")
    assert derive(other) != first


def test_derive_key_functions_match_python(client):
    """HMAC is HKDF (RFC 5869) with Salt and Derivation Data as info; NIST800-108-C is the
    counter-mode KDF with an HMAC PRF whose fixed input is the Derivation Data, whole."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF
    from cryptography.hazmat.primitives.kdf.kbkdf import CounterLocation, KBKDFHMAC, Mode

    secret = os.urandom(32)
    base = register_aes(client, secret, masks=(U.DERIVE_KEY,))
    data = b"label-and-context"

    def derive(method, params):
        uid = client.derive_key(enums.ObjectType.SYMMETRIC_KEY, [base], method, params,
                                cryptographic_algorithm=enums.CryptographicAlgorithm.AES,
                                cryptographic_length=256)
        return client.get(uid).value

    sha256 = {"hashing_algorithm": enums.HashingAlgorithm.SHA_256}
    got = derive(enums.DerivationMethod.HMAC, {"cryptographic_parameters": sha256,
                                               "derivation_data": data, "salt": b"salt"})
    assert got == HKDF(hashes.SHA256(), 32, b"salt", data).derive(secret)
    got = derive(enums.DerivationMethod.NIST800_108_C, {"cryptographic_parameters": sha256,
                                                        "derivation_data": data})
    kbkdf = KBKDFHMAC(algorithm=hashes.SHA256(), mode=Mode.CounterMode, length=32, rlen=4,
                      llen=None, location=CounterLocation.BeforeFixed, label=None,
                      context=None, fixed=data)
    assert got == kbkdf.derive(secret)


def test_derive_key_pbkdf2_and_hkdf_with_sha1_match_python(client):
    """SHA-1 is accepted inside PBKDF2 and HKDF (PyKMIP's own derive tests use it), not in
    NIST800-108-C."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    sha1 = {"hashing_algorithm": enums.HashingAlgorithm.SHA_1}
    password = b"password"
    base = client.register(objects.SecretData(password, enums.SecretDataType.PASSWORD,
                                              masks=[U.DERIVE_KEY], name=unique("pw")))
    client.activate(base)

    def derive(method, params):
        uid = client.derive_key(enums.ObjectType.SYMMETRIC_KEY, [base], method, params,
                                cryptographic_algorithm=enums.CryptographicAlgorithm.AES,
                                cryptographic_length=128)
        return client.get(uid).value

    got = derive(enums.DerivationMethod.PBKDF2,
                 {"cryptographic_parameters": sha1, "salt": b"salt", "iteration_count": 2})
    assert got == hashlib.pbkdf2_hmac("sha1", password, b"salt", 2, 16)
    got = derive(enums.DerivationMethod.HMAC,
                 {"cryptographic_parameters": sha1, "salt": b"salt", "derivation_data": b"i"})
    assert got == HKDF(hashes.SHA1(), 16, b"salt", b"i").derive(password)
    key = register_aes(client, os.urandom(32), masks=(U.DERIVE_KEY,))
    with kmip_failure(enums.ResultReason.INVALID_FIELD,
                      enums.ResultReason.CRYPTOGRAPHIC_FAILURE):
        client.derive_key(enums.ObjectType.SYMMETRIC_KEY, [key],
                          enums.DerivationMethod.NIST800_108_C,
                          {"cryptographic_parameters": sha1, "derivation_data": b"x"},
                          cryptographic_algorithm=enums.CryptographicAlgorithm.AES,
                          cryptographic_length=128)


def test_derive_key_nist800_108_counter_matches_the_cavp_vector(client):
    """PyKMIP's integration test vector (NIST CAVP KBKDF, counter before the fixed input,
    HMAC-SHA512, 32-bit counter): Derivation Data is the whole fixed input."""
    secret = bytes.fromhex(
        "dd5dbd45593ee2ac139748e7645b450f223d2ff297b73fd71cbcebe71d41653c"
        "950b88500de5322d99ef18dfdd30428294c4b3094f4c954334e593bd982ec614")
    data = bytes.fromhex(
        "b50b0c963c6b3034b8cf19cd3f5c4ebe4f4985af0c03e575db62e6fdf1ecfe4f"
        "28b95d7ce16df85843246e1557ce95bb26cc9a21974bbd2eb69e8355")
    base = client.register(objects.SymmetricKey(
        enums.CryptographicAlgorithm.HMAC_SHA512, 512, secret, masks=[U.DERIVE_KEY],
        name=unique("kbkdf")))
    client.activate(base)
    uid = client.derive_key(
        enums.ObjectType.SYMMETRIC_KEY, [base], enums.DerivationMethod.NIST800_108_C,
        {"cryptographic_parameters": {"hashing_algorithm": enums.HashingAlgorithm.SHA_512},
         "derivation_data": data},
        cryptographic_algorithm=enums.CryptographicAlgorithm.AES, cryptographic_length=128)
    assert client.get(uid).value == bytes.fromhex("e5993bf9bd2aa1c45746042e12598155")


def test_derive_key_refuses_a_base_not_for_derivation(client):
    base = register_aes(client, os.urandom(32))
    with kmip_failure(enums.ResultReason.PERMISSION_DENIED,
                      enums.ResultReason.INCOMPATIBLE_CRYPTOGRAPHIC_USAGE_MASK):
        client.derive_key(enums.ObjectType.SYMMETRIC_KEY, [base], enums.DerivationMethod.HMAC,
                          {"cryptographic_parameters":
                           {"hashing_algorithm": enums.HashingAlgorithm.SHA_256},
                           "derivation_data": b"x"},
                          cryptographic_algorithm=enums.CryptographicAlgorithm.AES,
                          cryptographic_length=128)
