#!/usr/bin/env python3
"""Records the exact TTLV request messages PyKMIP 0.11 builds, one per operation and version.

Nothing is sent over the network: the client's KMIPProtocol is replaced by a recorder that keeps
the bytes PyKMIP writes and then aborts the call. Key material comes from fixtures/ (generated
once, then reused) so that re-running the capture gives byte-identical vectors.

    $KEYHOLD_PYTHON tests/interop/pykmip/capture.py            # rewrite the vectors
    $KEYHOLD_PYTHON tests/interop/pykmip/capture.py --check    # fail if they differ
    $KEYHOLD_PYTHON tests/interop/pykmip/capture.py --dump crates/keyhold-kmip/tests/vectors/pykmip/2.0/create.hex

Output: crates/keyhold-kmip/tests/vectors/pykmip/<version>/<operation>.hex (one line of
lowercase hex, the whole Request Message including its outer TTLV header).
"""

import argparse
import datetime
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
OUT = os.path.join(ROOT, "crates", "keyhold-kmip", "tests", "vectors", "pykmip")
sys.path.insert(0, HERE)

import fixtures  # noqa: E402

from kmip.core import enums  # noqa: E402
from kmip.core import objects as cobjects  # noqa: E402
from kmip.core import misc  # noqa: E402
from kmip.core import attributes as cattributes  # noqa: E402
from kmip.core.factories import attributes as attribute_factories  # noqa: E402
from kmip.core.messages import messages, payloads  # noqa: E402
from kmip.core.messages.contents import Operation, ProtocolVersion  # noqa: E402
from kmip.pie import objects as pobjects  # noqa: E402
from kmip.pie.client import ProxyKmipClient  # noqa: E402
from kmip.services.kmip_client import KMIPProxy  # noqa: E402

VERSIONS = [
    ("1.0", enums.KMIPVersion.KMIP_1_0),
    ("1.1", enums.KMIPVersion.KMIP_1_1),
    ("1.2", enums.KMIPVersion.KMIP_1_2),
    ("1.3", enums.KMIPVersion.KMIP_1_3),
    ("1.4", enums.KMIPVersion.KMIP_1_4),
    ("2.0", enums.KMIPVersion.KMIP_2_0),
]

UID = "1f0e6c1e-0000-4000-8000-000000000001"
UID2 = "1f0e6c1e-0000-4000-8000-000000000002"
IV16 = bytes(range(16))
NONCE12 = bytes(range(12))
DATA = b"The quick brown fox jumps over the lazy dog"


class Sent(Exception):
    """Raised by the recorder once PyKMIP has written its request."""


class Recorder:
    def __init__(self):
        self.data = None

    def write(self, data):
        self.data = bytes(data)
        raise Sent()

    def read(self):  # pragma: no cover - never reached
        raise Sent()


def capture(version, call, use_pie=True):
    """Runs `call(client)` and returns the request bytes PyKMIP wrote."""
    rec = Recorder()
    if use_pie:
        client = ProxyKmipClient(
            hostname="127.0.0.1", port=5696, config_file=fixtures.EMPTY_CONFIG,
            kmip_version=version)
        client.proxy.protocol = rec
        client._is_open = True
    else:
        client = KMIPProxy(
            host="127.0.0.1", port=5696, config_file=fixtures.EMPTY_CONFIG,
            kmip_version=version)
        client.protocol = rec
    try:
        call(client)
    except Sent:
        pass
    if rec.data is None:
        raise RuntimeError("nothing was written")
    return rec.data


af = attribute_factories.AttributeFactory()


def attr(kind, value):
    return af.create_attribute(kind, value)


def batch_create_activate(proxy):
    """Create + Activate in one message; Activate has no Unique Identifier (ID placeholder)."""
    template = cobjects.TemplateAttribute(attributes=[
        attr(enums.AttributeType.CRYPTOGRAPHIC_ALGORITHM, enums.CryptographicAlgorithm.AES),
        attr(enums.AttributeType.CRYPTOGRAPHIC_LENGTH, 256),
        attr(enums.AttributeType.CRYPTOGRAPHIC_USAGE_MASK,
             [enums.CryptographicUsageMask.ENCRYPT, enums.CryptographicUsageMask.DECRYPT]),
    ])
    items = [
        messages.RequestBatchItem(
            operation=Operation(enums.Operation.CREATE),
            request_payload=payloads.CreateRequestPayload(
                object_type=enums.ObjectType.SYMMETRIC_KEY, template_attribute=template)),
        messages.RequestBatchItem(
            operation=Operation(enums.Operation.ACTIVATE),
            request_payload=payloads.ActivateRequestPayload()),
        messages.RequestBatchItem(
            operation=Operation(enums.Operation.GET_ATTRIBUTES),
            request_payload=payloads.GetAttributesRequestPayload(
                attribute_names=["State"])),
    ]
    proxy._send_and_receive_message(proxy._build_request_message(None, items))


def operations():
    """(name, uses_pie, callable) for every request PyKMIP 0.11 can build."""
    key = fixtures.load()
    ops = []

    def add(name, fn, pie=True):
        ops.append((name, pie, fn))

    # --- object creation -------------------------------------------------------------------
    add("create", lambda c: c.create(
        enums.CryptographicAlgorithm.AES, 256, name="pykmip-aes"))
    add("create_with_policy", lambda c: c.create(
        enums.CryptographicAlgorithm.AES, 128, operation_policy_name="default",
        cryptographic_usage_mask=[enums.CryptographicUsageMask.MAC_GENERATE]))
    add("create_key_pair", lambda c: c.create_key_pair(
        enums.CryptographicAlgorithm.RSA, 2048,
        public_name="pykmip-rsa-pub",
        public_usage_mask=[enums.CryptographicUsageMask.VERIFY],
        private_name="pykmip-rsa-priv",
        private_usage_mask=[enums.CryptographicUsageMask.SIGN]))
    add("create_key_pair_minimal", lambda c: c.create_key_pair(
        enums.CryptographicAlgorithm.RSA, 2048))

    # --- register ------------------------------------------------------------------------
    add("register_symmetric_key", lambda c: c.register(pobjects.SymmetricKey(
        enums.CryptographicAlgorithm.AES, 128, fixtures.AES128,
        masks=[enums.CryptographicUsageMask.ENCRYPT, enums.CryptographicUsageMask.DECRYPT],
        name="pykmip-registered-aes")))
    add("register_secret_data", lambda c: c.register(pobjects.SecretData(
        b"correct horse battery staple", enums.SecretDataType.PASSWORD,
        masks=[enums.CryptographicUsageMask.DERIVE_KEY], name="pykmip-secret")))
    add("register_opaque_object", lambda c: c.register(pobjects.OpaqueObject(
        b"\x00\x01opaque\xff", enums.OpaqueDataType.NONE, name="pykmip-opaque")))
    add("register_certificate", lambda c: c.register(pobjects.X509Certificate(
        key["cert_der"], masks=[enums.CryptographicUsageMask.VERIFY], name="pykmip-cert")))
    add("register_public_key", lambda c: c.register(pobjects.PublicKey(
        enums.CryptographicAlgorithm.RSA, 2048, key["public_pkcs1"],
        enums.KeyFormatType.PKCS_1, masks=[enums.CryptographicUsageMask.VERIFY],
        name="pykmip-pub")))
    add("register_private_key", lambda c: c.register(pobjects.PrivateKey(
        enums.CryptographicAlgorithm.RSA, 2048, key["private_pkcs8"],
        enums.KeyFormatType.PKCS_8, masks=[enums.CryptographicUsageMask.SIGN],
        name="pykmip-priv")))
    add("register_split_key", lambda c: c.register(pobjects.SplitKey(
        cryptographic_algorithm=enums.CryptographicAlgorithm.AES,
        cryptographic_length=128, key_value=fixtures.AES128,
        cryptographic_usage_masks=[enums.CryptographicUsageMask.ENCRYPT],
        name="pykmip-split", split_key_parts=4, key_part_identifier=1,
        split_key_threshold=2, split_key_method=enums.SplitKeyMethod.XOR)))

    # --- rekey / derive ------------------------------------------------------------------
    add("rekey", lambda c: c.rekey(uid=UID, offset=0))
    add("rekey_key_pair", lambda p: p.rekey_key_pair(
        private_key_uuid=cattributes.PrivateKeyUniqueIdentifier(UID),
        offset=None), pie=False)
    add("derive_key_pbkdf2", lambda c: c.derive_key(
        enums.ObjectType.SYMMETRIC_KEY, [UID], enums.DerivationMethod.PBKDF2,
        {"cryptographic_parameters": {"hashing_algorithm": enums.HashingAlgorithm.SHA_256},
         "salt": b"saltsaltsaltsalt", "iteration_count": 4096},
        cryptographic_algorithm=enums.CryptographicAlgorithm.AES, cryptographic_length=256))
    add("derive_key_hmac", lambda c: c.derive_key(
        enums.ObjectType.SYMMETRIC_KEY, [UID], enums.DerivationMethod.HMAC,
        {"cryptographic_parameters": {"hashing_algorithm": enums.HashingAlgorithm.SHA_256},
         "derivation_data": b"context", "salt": b"salt"},
        cryptographic_algorithm=enums.CryptographicAlgorithm.AES, cryptographic_length=128))
    add("derive_key_nist800_108_c", lambda c: c.derive_key(
        enums.ObjectType.SYMMETRIC_KEY, [UID], enums.DerivationMethod.NIST800_108_C,
        {"cryptographic_parameters": {"hashing_algorithm": enums.HashingAlgorithm.SHA_256},
         "derivation_data": b"label\x00context"},
        cryptographic_algorithm=enums.CryptographicAlgorithm.AES, cryptographic_length=256))
    add("derive_key_encrypt", lambda c: c.derive_key(
        enums.ObjectType.SECRET_DATA, [UID], enums.DerivationMethod.ENCRYPT,
        {"cryptographic_parameters": {
            "block_cipher_mode": enums.BlockCipherMode.CBC,
            "padding_method": enums.PaddingMethod.PKCS5,
            "cryptographic_algorithm": enums.CryptographicAlgorithm.AES},
         "initialization_vector": IV16, "derivation_data": DATA},
        cryptographic_length=384))

    # --- locate / check ------------------------------------------------------------------
    add("locate", lambda c: c.locate())
    add("locate_by_name", lambda c: c.locate(attributes=[
        attr(enums.AttributeType.NAME, "pykmip-aes")]))
    add("locate_with_attributes", lambda c: c.locate(
        maximum_items=5, offset_items=1, attributes=[
            attr(enums.AttributeType.OBJECT_TYPE, enums.ObjectType.SYMMETRIC_KEY),
            attr(enums.AttributeType.CRYPTOGRAPHIC_ALGORITHM, enums.CryptographicAlgorithm.AES),
            attr(enums.AttributeType.CRYPTOGRAPHIC_LENGTH, 256),
            attr(enums.AttributeType.STATE, enums.State.ACTIVE),
        ]))
    add("locate_storage_group", lambda c: c.locate(
        maximum_items=1, storage_status_mask=1,
        object_group_member=enums.ObjectGroupMember.GROUP_MEMBER_DEFAULT,
        attributes=[attr(enums.AttributeType.OBJECT_GROUP, "pykmip-group")]))
    add("check", lambda c: c.check(
        uid=UID, usage_limits_count=100,
        cryptographic_usage_mask=[enums.CryptographicUsageMask.ENCRYPT,
                                  enums.CryptographicUsageMask.DECRYPT],
        lease_time=3600))

    # --- get / attributes ----------------------------------------------------------------
    add("get", lambda c: c.get(UID))
    add("get_key_format_type", lambda p: p.get(
        uuid=UID, key_format_type=misc.KeyFormatType(enums.KeyFormatType.PKCS_8)), pie=False)
    add("get_key_format_raw", lambda p: p.get(
        uuid=UID, key_format_type=misc.KeyFormatType(enums.KeyFormatType.RAW)), pie=False)
    add("get_key_wrapping", lambda c: c.get(UID, key_wrapping_specification={
        "wrapping_method": enums.WrappingMethod.ENCRYPT,
        "encryption_key_information": {
            "unique_identifier": UID2,
            "cryptographic_parameters": {
                "block_cipher_mode": enums.BlockCipherMode.NIST_KEY_WRAP}},
        "attribute_names": ["Cryptographic Usage Mask"],
        "encoding_option": enums.EncodingOption.NO_ENCODING}))
    add("get_attributes", lambda c: c.get_attributes(UID))
    add("get_attributes_names", lambda c: c.get_attributes(UID, [
        "Unique Identifier", "Object Type", "Cryptographic Algorithm",
        "Cryptographic Length", "State", "Name"]))
    add("get_attribute_list", lambda c: c.get_attribute_list(UID))
    add("modify_attribute", lambda c: c.modify_attribute(
        unique_identifier=UID,
        attribute=attr(enums.AttributeType.NAME, "pykmip-renamed"),
        current_attribute=cobjects.CurrentAttribute(
            attribute=cattributes.Name.create(
                "pykmip-aes", enums.NameType.UNINTERPRETED_TEXT_STRING)),
        new_attribute=cobjects.NewAttribute(
            attribute=cattributes.Name.create(
                "pykmip-renamed", enums.NameType.UNINTERPRETED_TEXT_STRING))))
    add("delete_attribute", lambda c: c.delete_attribute(
        unique_identifier=UID, attribute_name="Name", attribute_index=0,
        current_attribute=cobjects.CurrentAttribute(
            attribute=cattributes.Name.create(
                "pykmip-aes", enums.NameType.UNINTERPRETED_TEXT_STRING))))
    add("delete_attribute_reference", lambda c: c.delete_attribute(
        unique_identifier=UID, attribute_name="Contact Information",
        attribute_reference=cobjects.AttributeReference(
            vendor_identification="", attribute_name="Contact Information")))
    add("set_attribute", lambda c: c.set_attribute(
        unique_identifier=UID, attribute_name="Contact Information",
        attribute_value="ops@example.org"))

    # --- life cycle ----------------------------------------------------------------------
    add("activate", lambda c: c.activate(UID))
    add("revoke", lambda c: c.revoke(
        enums.RevocationReasonCode.CESSATION_OF_OPERATION, UID,
        revocation_message="retired"))
    add("revoke_compromise", lambda c: c.revoke(
        enums.RevocationReasonCode.KEY_COMPROMISE, UID,
        compromise_occurrence_date=1577836800))
    add("destroy", lambda c: c.destroy(UID))

    # --- cryptography --------------------------------------------------------------------
    add("encrypt_cbc", lambda c: c.encrypt(DATA, uid=UID, cryptographic_parameters={
        "cryptographic_algorithm": enums.CryptographicAlgorithm.AES,
        "block_cipher_mode": enums.BlockCipherMode.CBC,
        "padding_method": enums.PaddingMethod.PKCS5}, iv_counter_nonce=IV16))
    add("encrypt_cbc_random_iv", lambda c: c.encrypt(DATA, uid=UID, cryptographic_parameters={
        "cryptographic_algorithm": enums.CryptographicAlgorithm.AES,
        "block_cipher_mode": enums.BlockCipherMode.CBC,
        "padding_method": enums.PaddingMethod.PKCS5, "random_iv": True}))
    add("encrypt_gcm", lambda p: p.send_request_payload(
        enums.Operation.ENCRYPT, payloads.EncryptRequestPayload(
            unique_identifier=UID, data=DATA, iv_counter_nonce=NONCE12,
            auth_additional_data=b"header",
            cryptographic_parameters=cattributes.CryptographicParameters(
                cryptographic_algorithm=enums.CryptographicAlgorithm.AES,
                block_cipher_mode=enums.BlockCipherMode.GCM, tag_length=16))), pie=False)
    add("decrypt_cbc", lambda c: c.decrypt(b"\x00" * 48, uid=UID, cryptographic_parameters={
        "cryptographic_algorithm": enums.CryptographicAlgorithm.AES,
        "block_cipher_mode": enums.BlockCipherMode.CBC,
        "padding_method": enums.PaddingMethod.PKCS5}, iv_counter_nonce=IV16))
    add("decrypt_gcm", lambda p: p.send_request_payload(
        enums.Operation.DECRYPT, payloads.DecryptRequestPayload(
            unique_identifier=UID, data=b"\x01" * len(DATA), iv_counter_nonce=NONCE12,
            auth_additional_data=b"header", auth_tag=b"\x02" * 16,
            cryptographic_parameters=cattributes.CryptographicParameters(
                cryptographic_algorithm=enums.CryptographicAlgorithm.AES,
                block_cipher_mode=enums.BlockCipherMode.GCM, tag_length=16))), pie=False)
    add("sign", lambda c: c.sign(DATA, uid=UID, cryptographic_parameters={
        "cryptographic_algorithm": enums.CryptographicAlgorithm.RSA,
        "hashing_algorithm": enums.HashingAlgorithm.SHA_256,
        "padding_method": enums.PaddingMethod.PKCS1v15}))
    add("sign_digital_signature_algorithm", lambda c: c.sign(DATA, uid=UID,
        cryptographic_parameters={
            "digital_signature_algorithm":
                enums.DigitalSignatureAlgorithm.SHA256_WITH_RSA_ENCRYPTION}))
    add("signature_verify", lambda c: c.signature_verify(DATA, b"\x03" * 256, uid=UID,
        cryptographic_parameters={
            "cryptographic_algorithm": enums.CryptographicAlgorithm.RSA,
            "hashing_algorithm": enums.HashingAlgorithm.SHA_256,
            "padding_method": enums.PaddingMethod.PKCS1v15}))
    add("mac", lambda c: c.mac(DATA, uid=UID,
                               algorithm=enums.CryptographicAlgorithm.HMAC_SHA256))

    # --- server -----------------------------------------------------------------------
    add("query", lambda p: p.query(query_functions=[
        enums.QueryFunction.QUERY_OPERATIONS, enums.QueryFunction.QUERY_OBJECTS,
        enums.QueryFunction.QUERY_SERVER_INFORMATION]), pie=False)
    add("query_all", lambda p: p.query(query_functions=list(enums.QueryFunction)), pie=False)
    add("discover_versions", lambda p: p.discover_versions(), pie=False)
    add("discover_versions_list", lambda p: p.discover_versions(protocol_versions=[
        ProtocolVersion(2, 0), ProtocolVersion(1, 4)]), pie=False)
    add("batch_create_activate_placeholder", batch_create_activate, pie=False)
    return ops


# --- TTLV dump -------------------------------------------------------------------------------

TYPES = {1: "Structure", 2: "Integer", 3: "LongInteger", 4: "BigInteger", 5: "Enumeration",
         6: "Boolean", 7: "TextString", 8: "ByteString", 9: "DateTime", 10: "Interval",
         11: "DateTimeExtended"}


def tag_name(tag):
    try:
        return enums.Tags(tag).name
    except ValueError:
        return "UNKNOWN"


def dump(buf, depth=0, out=None):
    out = [] if out is None else out
    i = 0
    while i + 8 <= len(buf):
        tag = int.from_bytes(buf[i:i + 3], "big")
        typ = buf[i + 3]
        length = struct.unpack(">I", buf[i + 4:i + 8])[0]
        body = buf[i + 8:i + 8 + length]
        pad = (8 - length % 8) % 8
        head = "%s%06X %s (%s)" % ("  " * depth, tag, tag_name(tag), TYPES.get(typ, typ))
        if typ == 1:
            out.append(head)
            dump(body, depth + 1, out)
        elif typ in (2, 5):
            value = struct.unpack(">I", body)[0]
            out.append("%s = 0x%08X" % (head, value))
        elif typ in (3, 9, 10):
            value = int.from_bytes(body, "big", signed=typ == 3)
            if typ == 9:
                value = "%d (%s)" % (value, datetime.datetime.fromtimestamp(
                    value, datetime.timezone.utc).isoformat())
            out.append("%s = %s" % (head, value))
        elif typ == 6:
            out.append("%s = %s" % (head, bool(int.from_bytes(body, "big"))))
        elif typ == 7:
            out.append("%s = %r" % (head, body.decode("utf-8", "replace")))
        else:
            out.append("%s = %s" % (head, body.hex() if len(body) <= 48
                                    else body[:48].hex() + "...(%d bytes)" % len(body)))
        i += 8 + length + pad
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="compare with the stored vectors instead of writing")
    parser.add_argument("--dump", metavar="HEX_FILE", help="print a TTLV tree of a vector")
    parser.add_argument("--out", default=OUT)
    args = parser.parse_args()

    if args.dump:
        with open(args.dump) as f:
            print("\n".join(dump(bytes.fromhex(f.read().strip()))))
        return 0

    differences = []
    skipped = {}
    written = 0
    for label, version in VERSIONS:
        folder = os.path.join(args.out, label)
        os.makedirs(folder, exist_ok=True)
        for name, pie, fn in operations():
            try:
                data = capture(version, fn, use_pie=pie)
            except Exception as e:  # PyKMIP refuses to encode this for this version
                skipped.setdefault(label, []).append("%s (%s: %s)" % (
                    name, type(e).__name__, e))
                continue
            path = os.path.join(folder, name + ".hex")
            text = data.hex() + "\n"
            if args.check:
                old = open(path).read() if os.path.exists(path) else None
                if old != text:
                    differences.append(path)
            else:
                with open(path, "w") as f:
                    f.write(text)
                written += 1
    for label, names in skipped.items():
        print("KMIP %s: PyKMIP does not encode: %s" % (label, "; ".join(names)))
    if args.check:
        if differences:
            print("differ from PyKMIP's output:\n  " + "\n  ".join(differences))
            return 1
        print("all vectors match PyKMIP's output")
        return 0
    print("wrote %d vectors under %s" % (written, os.path.relpath(args.out, ROOT)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
