"""The low-level KMIPProxy: results objects, Query, DiscoverVersions, Get with a key format type,
key wrapping, GCM with hand-built payloads, batches with ID placeholders, and TLS."""

import os
import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.keywrap import aes_key_wrap
from kmip.core import attributes as cattributes
from kmip.core import enums, misc
from kmip.core import objects as cobjects
from kmip.core.factories.attributes import AttributeFactory
from kmip.core.messages import messages, payloads
from kmip.core.messages.contents import Operation, ProtocolVersion
from kmip.pie import objects

from conftest import V11, V14, VERSIONS, attribute_map, kmip_failure, unique, version_id

af = AttributeFactory()
SUCCESS = enums.ResultStatus.SUCCESS
U = enums.CryptographicUsageMask


def aes_template(length=256, name=None):
    attrs = [
        af.create_attribute(enums.AttributeType.CRYPTOGRAPHIC_ALGORITHM,
                            enums.CryptographicAlgorithm.AES),
        af.create_attribute(enums.AttributeType.CRYPTOGRAPHIC_LENGTH, length),
        af.create_attribute(enums.AttributeType.CRYPTOGRAPHIC_USAGE_MASK,
                            [U.ENCRYPT, U.DECRYPT]),
    ]
    if name:
        attrs.append(af.create_attribute(enums.AttributeType.NAME, name))
    return cobjects.TemplateAttribute(attributes=attrs)


def create_rsa_pair(proxy):
    def template(tag, *attrs):
        return cobjects.TemplateAttribute(attributes=list(attrs), tag=tag)
    mask = enums.AttributeType.CRYPTOGRAPHIC_USAGE_MASK
    return proxy.create_key_pair(
        common_template_attribute=template(
            enums.Tags.COMMON_TEMPLATE_ATTRIBUTE,
            af.create_attribute(enums.AttributeType.CRYPTOGRAPHIC_ALGORITHM,
                                enums.CryptographicAlgorithm.RSA),
            af.create_attribute(enums.AttributeType.CRYPTOGRAPHIC_LENGTH, 2048)),
        private_key_template_attribute=template(
            enums.Tags.PRIVATE_KEY_TEMPLATE_ATTRIBUTE, af.create_attribute(mask, [U.SIGN])),
        public_key_template_attribute=template(
            enums.Tags.PUBLIC_KEY_TEMPLATE_ATTRIBUTE, af.create_attribute(mask, [U.VERIFY])))


def ok(result):
    assert result.result_status.value == SUCCESS, "%s: %s" % (
        result.result_reason.value if result.result_reason else None,
        result.result_message.value if result.result_message else None)
    return result


def test_proxy_create_get_locate_activate_revoke_destroy(proxy):
    name = unique("proxy")
    created = ok(proxy.create(enums.ObjectType.SYMMETRIC_KEY, aes_template(name=name)))
    assert created.object_type == enums.ObjectType.SYMMETRIC_KEY
    uid = created.uuid
    got = ok(proxy.get(uid))
    assert got.object_type == enums.ObjectType.SYMMETRIC_KEY
    assert got.uuid == uid
    assert len(got.secret.key_block.key_value.key_material.value) == 32
    located = ok(proxy.locate(attributes=[af.create_attribute(enums.AttributeType.NAME, name)]))
    assert located.uuids == [uid]
    ok(proxy.activate(uid))
    attrs = ok(proxy.get_attributes(uid, ["State"]))
    assert attrs.uuid == uid
    assert attribute_map(attrs.attributes)["State"] == [enums.State.ACTIVE]
    names = ok(proxy.get_attribute_list(uid))
    assert "State" in names.names
    ok(proxy.revoke(enums.RevocationReasonCode.CESSATION_OF_OPERATION, uid))
    ok(proxy.destroy(uid))
    failed = proxy.get(uid)
    assert failed.result_status.value == enums.ResultStatus.OPERATION_FAILED
    assert failed.result_reason.value == enums.ResultReason.ITEM_NOT_FOUND
    assert failed.result_message is not None


def test_proxy_register_and_get_raw(proxy):
    value = os.urandom(16)
    key = objects.SymmetricKey(enums.CryptographicAlgorithm.AES, 128, value)
    from kmip.pie.factory import ObjectFactory
    secret = ObjectFactory().convert(key)
    uid = ok(proxy.register(enums.ObjectType.SYMMETRIC_KEY,
                            cobjects.TemplateAttribute(attributes=[]), secret)).uuid
    got = ok(proxy.get(uid, key_format_type=misc.KeyFormatType(enums.KeyFormatType.RAW)))
    assert got.secret.key_block.key_format_type.value == enums.KeyFormatType.RAW
    assert got.secret.key_block.key_value.key_material.value == value


def test_proxy_get_private_key_as_pkcs8_and_pkcs1(proxy):
    result = ok(create_rsa_pair(proxy))
    priv = result.private_key_uuid
    pub = result.public_key_uuid
    assert priv and pub and priv != pub
    for fmt in (enums.KeyFormatType.PKCS_8, enums.KeyFormatType.PKCS_1):
        got = ok(proxy.get(priv, key_format_type=misc.KeyFormatType(fmt)))
        assert got.secret.key_block.key_format_type.value == fmt
        assert got.secret.key_block.key_value.key_material.value[:1] == b"\x30"  # DER SEQUENCE
    for fmt in (enums.KeyFormatType.X_509, enums.KeyFormatType.PKCS_1):
        got = ok(proxy.get(pub, key_format_type=misc.KeyFormatType(fmt)))
        assert got.secret.key_block.key_format_type.value == fmt


@pytest.mark.parametrize("version", V11, ids=version_id)
def test_proxy_rekey_key_pair(proxy):
    result = ok(create_rsa_pair(proxy))
    rekeyed = ok(proxy.rekey_key_pair(
        private_key_uuid=cattributes.PrivateKeyUniqueIdentifier(result.private_key_uuid)))
    assert rekeyed.private_key_uuid and rekeyed.public_key_uuid
    assert rekeyed.private_key_uuid != result.private_key_uuid
    assert rekeyed.public_key_uuid != result.public_key_uuid


def test_query_lists_operations_and_objects(proxy):
    result = ok(proxy.query(query_functions=[
        enums.QueryFunction.QUERY_OPERATIONS, enums.QueryFunction.QUERY_OBJECTS,
        enums.QueryFunction.QUERY_SERVER_INFORMATION]))
    operations = set(result.operations)
    for op in (enums.Operation.CREATE, enums.Operation.CREATE_KEY_PAIR,
               enums.Operation.REGISTER, enums.Operation.LOCATE, enums.Operation.GET,
               enums.Operation.GET_ATTRIBUTES, enums.Operation.GET_ATTRIBUTE_LIST,
               enums.Operation.ACTIVATE, enums.Operation.REVOKE, enums.Operation.DESTROY,
               enums.Operation.QUERY, enums.Operation.DISCOVER_VERSIONS,
               enums.Operation.ENCRYPT, enums.Operation.DECRYPT, enums.Operation.SIGN,
               enums.Operation.SIGNATURE_VERIFY, enums.Operation.MAC):
        assert op in operations, "%s not in Query operations" % op.name
    objs = set(result.object_types)
    for kind in (enums.ObjectType.SYMMETRIC_KEY, enums.ObjectType.PUBLIC_KEY,
                 enums.ObjectType.PRIVATE_KEY, enums.ObjectType.CERTIFICATE,
                 enums.ObjectType.SECRET_DATA, enums.ObjectType.OPAQUE_DATA):
        assert kind in objs, "%s not in Query objects" % kind.name
    assert result.vendor_identification


@pytest.mark.parametrize("version", V11, ids=version_id)
def test_discover_versions_lists_every_version(proxy):
    result = ok(proxy.discover_versions())
    versions = [(v.major, v.minor) for v in result.protocol_versions]
    for expected in ((2, 0), (1, 4), (1, 3), (1, 2), (1, 1), (1, 0)):
        assert expected in versions
    assert versions == sorted(versions, reverse=True), "newest first"


@pytest.mark.parametrize("version", V11, ids=version_id)
def test_discover_versions_intersects_with_the_client_list(proxy):
    result = ok(proxy.discover_versions(protocol_versions=[
        ProtocolVersion(1, 4), ProtocolVersion(1, 1), ProtocolVersion(9, 9)]))
    assert [(v.major, v.minor) for v in result.protocol_versions] == [(1, 4), (1, 1)]


def test_batch_with_id_placeholder(proxy):
    """Create + Activate + GetAttributes in one message; the last two use the ID placeholder."""
    items = [
        messages.RequestBatchItem(
            operation=Operation(enums.Operation.CREATE),
            request_payload=payloads.CreateRequestPayload(
                object_type=enums.ObjectType.SYMMETRIC_KEY, template_attribute=aes_template())),
        messages.RequestBatchItem(
            operation=Operation(enums.Operation.ACTIVATE),
            request_payload=payloads.ActivateRequestPayload()),
        messages.RequestBatchItem(
            operation=Operation(enums.Operation.GET_ATTRIBUTES),
            request_payload=payloads.GetAttributesRequestPayload(attribute_names=["State"])),
    ]
    response = proxy._send_and_receive_message(proxy._build_request_message(None, items))
    assert response.response_header.batch_count.value == 3
    assert len(response.batch_items) == 3
    for item, op in zip(response.batch_items, (enums.Operation.CREATE, enums.Operation.ACTIVATE,
                                               enums.Operation.GET_ATTRIBUTES)):
        assert item.result_status.value == SUCCESS, item.result_message
        assert item.operation.value == op
    uid = response.batch_items[0].response_payload.unique_identifier
    assert response.batch_items[1].response_payload.unique_identifier.value == uid
    attrs = response.batch_items[2].response_payload
    assert attrs.unique_identifier == uid
    assert attribute_map(attrs.attributes)["State"] == [enums.State.ACTIVE]


def test_batch_reports_a_failed_item(proxy):
    """A batch whose last item fails: the first item's result stands, the second is reported
    as failed with its own reason."""
    items = [
        messages.RequestBatchItem(
            operation=Operation(enums.Operation.CREATE),
            request_payload=payloads.CreateRequestPayload(
                object_type=enums.ObjectType.SYMMETRIC_KEY, template_attribute=aes_template())),
        messages.RequestBatchItem(
            operation=Operation(enums.Operation.GET),
            request_payload=payloads.GetRequestPayload(
                unique_identifier="00000000-0000-4000-8000-00000000dead")),
    ]
    response = proxy._send_and_receive_message(proxy._build_request_message(None, items))
    assert response.batch_items[0].result_status.value == SUCCESS
    assert response.batch_items[1].result_status.value == enums.ResultStatus.OPERATION_FAILED
    assert response.batch_items[1].result_reason.value == enums.ResultReason.ITEM_NOT_FOUND


@pytest.mark.parametrize("version", V14, ids=version_id)
def test_gcm_encrypt_decrypt_with_tag_and_aad(proxy, client):
    value = os.urandom(32)
    uid = client.register(objects.SymmetricKey(enums.CryptographicAlgorithm.AES, 256, value,
                                               masks=[U.ENCRYPT, U.DECRYPT]))
    client.activate(uid)
    nonce, aad, plaintext = os.urandom(12), b"associated", b"authenticated encryption"
    params = cattributes.CryptographicParameters(
        cryptographic_algorithm=enums.CryptographicAlgorithm.AES,
        block_cipher_mode=enums.BlockCipherMode.GCM, tag_length=16)
    encrypted = proxy.send_request_payload(enums.Operation.ENCRYPT, payloads.EncryptRequestPayload(
        unique_identifier=uid, data=plaintext, iv_counter_nonce=nonce,
        auth_additional_data=aad, cryptographic_parameters=params))
    assert encrypted.unique_identifier == uid
    assert encrypted.auth_tag is not None and len(encrypted.auth_tag) == 16
    expected = AESGCM(value).encrypt(nonce, plaintext, aad)
    assert encrypted.data + encrypted.auth_tag == expected
    decrypted = proxy.send_request_payload(enums.Operation.DECRYPT, payloads.DecryptRequestPayload(
        unique_identifier=uid, data=encrypted.data, iv_counter_nonce=nonce,
        auth_additional_data=aad, auth_tag=encrypted.auth_tag, cryptographic_parameters=params))
    assert decrypted.data == plaintext
    bad_tag = bytes([encrypted.auth_tag[0] ^ 1]) + encrypted.auth_tag[1:]
    with kmip_failure(enums.ResultReason.CRYPTOGRAPHIC_FAILURE,
                      enums.ResultReason.INVALID_FIELD):
        proxy.send_request_payload(enums.Operation.DECRYPT, payloads.DecryptRequestPayload(
            unique_identifier=uid, data=encrypted.data, iv_counter_nonce=nonce,
            auth_additional_data=aad, auth_tag=bad_tag, cryptographic_parameters=params))


def test_get_with_key_wrapping_specification(client):
    wrapping_value = os.urandom(32)
    wrapping = client.register(objects.SymmetricKey(
        enums.CryptographicAlgorithm.AES, 256, wrapping_value,
        masks=[U.WRAP_KEY, U.UNWRAP_KEY, U.ENCRYPT, U.DECRYPT], name=unique("kek")))
    client.activate(wrapping)
    value = os.urandom(32)
    target = client.register(objects.SymmetricKey(enums.CryptographicAlgorithm.AES, 256, value))
    wrapped = client.get(target, key_wrapping_specification={
        "wrapping_method": enums.WrappingMethod.ENCRYPT,
        "encryption_key_information": {
            "unique_identifier": wrapping,
            "cryptographic_parameters": {
                "block_cipher_mode": enums.BlockCipherMode.NIST_KEY_WRAP}},
        "encoding_option": enums.EncodingOption.NO_ENCODING})
    assert isinstance(wrapped, objects.SymmetricKey)
    assert wrapped.key_wrapping_data is not None
    assert wrapped.key_wrapping_data["wrapping_method"] == enums.WrappingMethod.ENCRYPT
    assert wrapped.key_wrapping_data["encryption_key_information"]["unique_identifier"] == \
        wrapping
    assert wrapped.value == aes_key_wrap(wrapping_value, value)
    # A plain Get still returns the key in the clear.
    assert client.get(target).value == value


# --- TLS -----------------------------------------------------------------------------------

@pytest.mark.parametrize("version", [enums.KMIPVersion.KMIP_1_2], ids=version_id)
def test_connection_uses_tls_1_2_or_1_3(client):
    assert client.proxy.socket.version() in ("TLSv1.2", "TLSv1.3")


@pytest.mark.parametrize("version", [enums.KMIPVersion.KMIP_1_2], ids=version_id)
def test_tls_1_2_only_client_works(server, version):
    c = server.pie(version, ssl_version="PROTOCOL_TLSv1_2")
    c.open()
    try:
        assert c.proxy.socket.version() == "TLSv1.2"
        assert c.create(enums.CryptographicAlgorithm.AES, 128)
    finally:
        c.close()


@pytest.mark.parametrize("version", [enums.KMIPVersion.KMIP_1_2], ids=version_id)
def test_client_without_certificate_is_refused(server, version):
    p = server.proxy(version, certfile=None, keyfile=None)
    with pytest.raises(Exception):
        # TLS 1.3 reports the missing client certificate only on the first read.
        p.open()
        p.discover_versions()
    p.close()


@pytest.mark.parametrize("version", VERSIONS, ids=version_id)
def test_many_requests_on_one_connection(client):
    for _ in range(20):
        assert client.create(enums.CryptographicAlgorithm.AES, 128)


def test_archive_and_recover(proxy, client, monkeypatch):
    """Archive moves a deactivated key's material out of the active store: the key then
    answers only metadata (Get fails with Object Archived) until Recover brings it back."""
    # PyKMIP 0.11 has the Archive and Recover payload classes but its response factory does
    # not hand them out; give it them so the responses decode.
    from kmip.core.factories.payloads.response import ResponsePayloadFactory
    monkeypatch.setattr(ResponsePayloadFactory, "_create_archive_payload",
                        lambda self: payloads.ArchiveResponsePayload(), raising=False)
    monkeypatch.setattr(ResponsePayloadFactory, "_create_recover_payload",
                        lambda self: payloads.RecoverResponsePayload(), raising=False)
    uid = client.create(enums.CryptographicAlgorithm.AES, 256)
    client.activate(uid)
    client.revoke(enums.RevocationReasonCode.CESSATION_OF_OPERATION, uid)

    def one(op, payload):
        item = messages.RequestBatchItem(operation=Operation(op), request_payload=payload)
        response = proxy._send_and_receive_message(proxy._build_request_message(None, [item]))
        return response.batch_items[0]

    archived = ok(one(enums.Operation.ARCHIVE, payloads.ArchiveRequestPayload(uid)))
    assert archived.response_payload.unique_identifier == uid
    with kmip_failure(enums.ResultReason.OBJECT_ARCHIVED):
        client.get(uid)
    _, attrs = client.get_attributes(uid, ["State"])
    assert attribute_map(attrs)["State"] == [enums.State.DEACTIVATED]
    again = one(enums.Operation.ARCHIVE, payloads.ArchiveRequestPayload(uid))
    assert again.result_reason.value == enums.ResultReason.OBJECT_ARCHIVED

    ok(one(enums.Operation.RECOVER, payloads.RecoverRequestPayload(uid)))
    assert len(client.get(uid).value) == 32
    client.destroy(uid)
