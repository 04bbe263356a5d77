"""Key pairs, signatures, and every managed object type PyKMIP can register."""

import os

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding
from kmip.core import enums, misc
from kmip.pie import objects

from conftest import V12, attribute_map, unique, version_id

U = enums.CryptographicUsageMask
RSA_PKCS1_SHA256 = {
    "cryptographic_algorithm": enums.CryptographicAlgorithm.RSA,
    "hashing_algorithm": enums.HashingAlgorithm.SHA_256,
    "padding_method": enums.PaddingMethod.PKCS1v15,
}


def load_public(key):
    """A cryptography public key from a pie PublicKey (PKCS#1 or X.509 SubjectPublicKeyInfo)."""
    if key.key_format_type == enums.KeyFormatType.PKCS_1:
        return _load_pkcs1_public(key.value)
    return serialization.load_der_public_key(key.value)


def _load_pkcs1_public(der):
    # cryptography loads PKCS#1 RSAPublicKey DER through the PEM "RSA PUBLIC KEY" label.
    import base64
    pem = b"-----BEGIN RSA PUBLIC KEY-----\n" + base64.encodebytes(der) + \
        b"-----END RSA PUBLIC KEY-----\n"
    return serialization.load_pem_public_key(pem)


def create_rsa_pair(client):
    pub, priv = client.create_key_pair(
        enums.CryptographicAlgorithm.RSA, 2048,
        public_name=unique("rsa-pub"), public_usage_mask=[U.VERIFY],
        private_name=unique("rsa-priv"), private_usage_mask=[U.SIGN])
    assert pub and priv and pub != priv
    return pub, priv


def test_create_key_pair_rsa_2048(client):
    pub, priv = create_rsa_pair(client)
    public = client.get(pub)
    private = client.get(priv)
    assert isinstance(public, objects.PublicKey)
    assert isinstance(private, objects.PrivateKey)
    assert public.cryptographic_algorithm == enums.CryptographicAlgorithm.RSA
    assert private.cryptographic_algorithm == enums.CryptographicAlgorithm.RSA
    assert public.cryptographic_length == 2048
    assert private.cryptographic_length == 2048
    assert load_public(public).key_size == 2048
    if private.key_format_type == enums.KeyFormatType.PKCS_8:
        loaded = serialization.load_der_private_key(private.value, password=None)
    else:
        assert private.key_format_type == enums.KeyFormatType.PKCS_1
        import base64
        loaded = serialization.load_pem_private_key(
            b"-----BEGIN RSA PRIVATE KEY-----\n" + base64.encodebytes(private.value)
            + b"-----END RSA PRIVATE KEY-----\n", password=None)
    assert loaded.public_key().public_numbers() == load_public(public).public_numbers()


def test_key_pair_object_types(client):
    pub, priv = create_rsa_pair(client)
    _, attrs = client.get_attributes(pub, ["Object Type", "Cryptographic Algorithm",
                                           "Cryptographic Length", "State"])
    m = attribute_map(attrs)
    assert m["Object Type"] == [enums.ObjectType.PUBLIC_KEY]
    assert m["Cryptographic Length"] == [2048]
    _, attrs = client.get_attributes(priv, ["Object Type"])
    assert attribute_map(attrs)["Object Type"] == [enums.ObjectType.PRIVATE_KEY]


@pytest.mark.parametrize("version", V12, ids=version_id)
def test_sign_and_verify_rsa_pkcs1v15_sha256(client):
    pub, priv = create_rsa_pair(client)
    client.activate(priv)
    client.activate(pub)
    data = b"sign me, please" * 20
    signature = client.sign(data, uid=priv, cryptographic_parameters=RSA_PKCS1_SHA256)
    assert len(signature) == 256
    # The signature verifies locally with the server's public key ...
    load_public(client.get(pub)).verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
    # ... and on the server.
    assert client.signature_verify(data, signature, uid=pub,
                                   cryptographic_parameters=RSA_PKCS1_SHA256) == \
        enums.ValidityIndicator.VALID
    tampered = bytes([signature[0] ^ 1]) + signature[1:]
    assert client.signature_verify(data, tampered, uid=pub,
                                   cryptographic_parameters=RSA_PKCS1_SHA256) == \
        enums.ValidityIndicator.INVALID


@pytest.mark.parametrize("version", V12, ids=version_id)
def test_sign_with_digital_signature_algorithm_only(client):
    pub, priv = create_rsa_pair(client)
    client.activate(priv)
    data = b"digital signature algorithm"
    signature = client.sign(data, uid=priv, cryptographic_parameters={
        "digital_signature_algorithm":
            enums.DigitalSignatureAlgorithm.SHA256_WITH_RSA_ENCRYPTION})
    load_public(client.get(pub)).verify(signature, data, padding.PKCS1v15(), hashes.SHA256())


@pytest.mark.parametrize("version", V12, ids=version_id)
def test_ecdsa_p256_sign_verify(client):
    pub, priv = client.create_key_pair(
        enums.CryptographicAlgorithm.ECDSA, 256,
        public_usage_mask=[U.VERIFY], private_usage_mask=[U.SIGN])
    client.activate(priv)
    client.activate(pub)
    params = {"cryptographic_algorithm": enums.CryptographicAlgorithm.ECDSA,
              "hashing_algorithm": enums.HashingAlgorithm.SHA_256,
              "digital_signature_algorithm": enums.DigitalSignatureAlgorithm.ECDSA_WITH_SHA256}
    data = b"elliptic"
    signature = client.sign(data, uid=priv, cryptographic_parameters=params)
    public = client.get(pub)
    key = serialization.load_der_public_key(public.value)
    assert isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp256r1"
    key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
    assert client.signature_verify(data, signature, uid=pub,
                                   cryptographic_parameters=params) == \
        enums.ValidityIndicator.VALID


def test_register_rsa_key_pair_and_get_exact_bytes(client, material, version):
    public = objects.PublicKey(enums.CryptographicAlgorithm.RSA, 2048, material["public_pkcs1"],
                               enums.KeyFormatType.PKCS_1, masks=[U.VERIFY], name=unique("pub"))
    private = objects.PrivateKey(enums.CryptographicAlgorithm.RSA, 2048,
                                 material["private_pkcs8"], enums.KeyFormatType.PKCS_8,
                                 masks=[U.SIGN], name=unique("priv"))
    pub = client.register(public)
    priv = client.register(private)
    got_pub = client.get(pub)
    got_priv = client.get(priv)
    assert got_pub.value == material["public_pkcs1"]
    assert got_pub.key_format_type == enums.KeyFormatType.PKCS_1
    assert got_priv.value == material["private_pkcs8"]
    assert got_priv.key_format_type == enums.KeyFormatType.PKCS_8
    if version < enums.KMIPVersion.KMIP_1_2:
        return  # no Sign before KMIP 1.2
    # A registered private key signs, and the signature checks with the fixture's public key.
    client.activate(priv)
    signature = client.sign(b"registered", uid=priv, cryptographic_parameters=RSA_PKCS1_SHA256)
    material["key"].public_key().verify(signature, b"registered", padding.PKCS1v15(),
                                        hashes.SHA256())
    bad = bytes(len(signature))
    with pytest.raises(InvalidSignature):
        material["key"].public_key().verify(bad, b"registered", padding.PKCS1v15(),
                                            hashes.SHA256())


@pytest.mark.parametrize("form", ["private_pkcs1", "private_pkcs8", "public_spki",
                                  "public_pkcs1"])
def test_registered_rsa_keys_come_back_in_their_registered_format(client, proxy, material,
                                                                  form):
    """A Get naming no format answers in the format the key was registered in; a Get naming
    one converts."""
    P1, P8, X509 = (enums.KeyFormatType.PKCS_1, enums.KeyFormatType.PKCS_8,
                    enums.KeyFormatType.X_509)
    fmt, other, other_form = {
        "private_pkcs1": (P1, P8, "private_pkcs8"),
        "private_pkcs8": (P8, P1, "private_pkcs1"),
        "public_spki": (X509, P1, "public_pkcs1"),
        "public_pkcs1": (P1, X509, "public_spki"),
    }[form]
    cls = objects.PrivateKey if form.startswith("private") else objects.PublicKey
    uid = client.register(cls(enums.CryptographicAlgorithm.RSA, 2048, material[form], fmt,
                              name=unique("rsa")))
    got = client.get(uid)
    assert isinstance(got, cls)
    assert got.key_format_type == fmt
    assert got.value == material[form]
    assert got.cryptographic_length == 2048
    result = proxy.get(uid, key_format_type=misc.KeyFormatType(other))
    assert result.result_status.value == enums.ResultStatus.SUCCESS, result.result_message
    assert result.secret.key_block.key_format_type.value == other
    assert result.secret.key_block.key_value.key_material.value == material[other_form]


def test_registered_hmac_key_keeps_its_length(client):
    value = os.urandom(64)
    key = objects.SymmetricKey(enums.CryptographicAlgorithm.HMAC_SHA256, 512, value,
                               masks=[U.MAC_GENERATE], name=unique("hmac64"))
    uid = client.register(key)
    got = client.get(uid)
    assert got.value == value
    assert got.cryptographic_length == 512
    _, attrs = client.get_attributes(uid, ["Cryptographic Length"])
    assert attribute_map(attrs)["Cryptographic Length"] == [512]
    # The usual length is not recorded apart.
    uid = client.register(objects.SymmetricKey(enums.CryptographicAlgorithm.HMAC_SHA256, 256,
                                               os.urandom(32), name=unique("hmac32")))
    assert client.get(uid).cryptographic_length == 256


def test_register_certificate_and_get_exact_bytes(client, material):
    cert = objects.X509Certificate(material["cert_der"], masks=[U.VERIFY],
                                   name=unique("cert"))
    uid = client.register(cert)
    got = client.get(uid)
    assert isinstance(got, objects.X509Certificate)
    assert got.value == material["cert_der"]
    _, attrs = client.get_attributes(uid, ["Object Type"])
    assert attribute_map(attrs)["Object Type"] == [enums.ObjectType.CERTIFICATE]


def test_register_secret_data_and_get_exact_bytes(client):
    value = os.urandom(48)
    uid = client.register(objects.SecretData(value, enums.SecretDataType.SEED,
                                             name=unique("secret")))
    got = client.get(uid)
    assert isinstance(got, objects.SecretData)
    assert got.value == value
    assert got.data_type == enums.SecretDataType.SEED


def test_register_password_secret_data(client):
    uid = client.register(objects.SecretData(b"hunter2", enums.SecretDataType.PASSWORD))
    got = client.get(uid)
    assert got.value == b"hunter2"
    assert got.data_type == enums.SecretDataType.PASSWORD


def test_register_opaque_object_and_get_exact_bytes(client):
    value = b"\x00\xffopaque blob\x00" + os.urandom(100)
    uid = client.register(objects.OpaqueObject(value, enums.OpaqueDataType.NONE,
                                               name=unique("opaque")))
    got = client.get(uid)
    assert isinstance(got, objects.OpaqueObject)
    assert got.value == value
    assert got.opaque_type == enums.OpaqueDataType.NONE


def test_register_split_key_and_get_exact_bytes(client):
    value = os.urandom(16)
    split = objects.SplitKey(
        cryptographic_algorithm=enums.CryptographicAlgorithm.AES, cryptographic_length=128,
        key_value=value, name=unique("split"), split_key_parts=3, key_part_identifier=2,
        split_key_threshold=2, split_key_method=enums.SplitKeyMethod.XOR)
    uid = client.register(split)
    got = client.get(uid)
    assert isinstance(got, objects.SplitKey)
    assert got.value == value
    assert got.split_key_parts == 3
    assert got.key_part_identifier == 2
    assert got.split_key_threshold == 2
    assert got.split_key_method == enums.SplitKeyMethod.XOR


def test_a_3des_key_is_stored_and_returned_exactly(client):
    """Keyhold implements no 3DES: a registered 3DES key is kept and returned, never used."""
    value = os.urandom(24)
    uid = client.register(objects.SymmetricKey(enums.CryptographicAlgorithm.TRIPLE_DES, 192,
                                               value, masks=[U.ENCRYPT, U.DECRYPT],
                                               name=unique("3des")))
    got = client.get(uid)
    assert isinstance(got, objects.SymmetricKey)
    assert got.cryptographic_algorithm == enums.CryptographicAlgorithm.TRIPLE_DES
    assert got.cryptographic_length == 192
    assert got.value == value
    _, attrs = client.get_attributes(uid, ["Cryptographic Algorithm", "Cryptographic Length"])
    m = attribute_map(attrs)
    assert m["Cryptographic Algorithm"] == [enums.CryptographicAlgorithm.TRIPLE_DES]
    assert m["Cryptographic Length"] == [192]
