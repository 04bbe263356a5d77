"""GetAttributes, GetAttributeList, ModifyAttribute, DeleteAttribute, SetAttribute; Name as a
multi-instance attribute, Activation Date, Cryptographic Usage Mask."""

import os
import time

import pytest
from kmip.core import attributes as cattributes
from kmip.core import enums
from kmip.core import objects as cobjects
from kmip.core.factories.attributes import AttributeFactory
from kmip.pie import objects

from conftest import (V1, V12, V2, attribute_map, create_aes, kmip_failure, unique,
                      version_id)

af = AttributeFactory()
U = enums.CryptographicUsageMask

STANDARD = ["Unique Identifier", "Object Type", "Cryptographic Algorithm",
            "Cryptographic Length", "State", "Initial Date", "Name", "Cryptographic Usage Mask"]


def test_get_attributes_without_names_returns_the_standard_attributes(client):
    name = unique()
    uid = client.create(enums.CryptographicAlgorithm.AES, 256, name=name)
    got_uid, attrs = client.get_attributes(uid)
    assert got_uid == uid
    m = attribute_map(attrs)
    for attribute in STANDARD:
        assert attribute in m, "%s missing from %s" % (attribute, sorted(m))
    assert m["Unique Identifier"] == [uid]
    assert m["Name"] == [name]
    assert m["Cryptographic Length"] == [256]
    assert m["State"] == [enums.State.PRE_ACTIVE]


def test_get_attributes_of_a_key_pair_member(client):
    pub, priv = client.create_key_pair(enums.CryptographicAlgorithm.RSA, 2048,
                                       public_name=unique("pub"), private_name=unique("priv"),
                                       public_usage_mask=[enums.CryptographicUsageMask.VERIFY],
                                       private_usage_mask=[enums.CryptographicUsageMask.SIGN])
    for uid, kind in ((pub, enums.ObjectType.PUBLIC_KEY), (priv, enums.ObjectType.PRIVATE_KEY)):
        got_uid, attrs = client.get_attributes(uid)
        m = attribute_map(attrs)
        assert got_uid == uid
        assert m["Object Type"] == [kind]
        assert m["Cryptographic Algorithm"] == [enums.CryptographicAlgorithm.RSA]
        assert m["Cryptographic Length"] == [2048]


def test_get_attributes_by_name_returns_only_those(client):
    uid = create_aes(client, name=unique())
    _, attrs = client.get_attributes(uid, ["State", "Cryptographic Algorithm"])
    m = attribute_map(attrs)
    assert set(m) == {"State", "Cryptographic Algorithm"}
    assert m["State"] == [enums.State.ACTIVE]


def test_get_attribute_list(client):
    uid = client.create(enums.CryptographicAlgorithm.AES, 256, name=unique())
    names = client.get_attribute_list(uid)
    for attribute in STANDARD:
        assert attribute in names, "%s missing from %s" % (attribute, names)


@pytest.mark.parametrize("version", V1, ids=version_id)
def test_modify_attribute_1x_renames(client):
    old, new = unique("old"), unique("new")
    uid = client.create(enums.CryptographicAlgorithm.AES, 128, name=old)
    got_uid, attribute = client.modify_attribute(
        unique_identifier=uid, attribute=af.create_attribute(enums.AttributeType.NAME, new))
    assert got_uid == uid
    assert attribute.attribute_name.value == "Name"
    assert attribute.attribute_value.name_value.value == new
    _, attrs = client.get_attributes(uid, ["Name"])
    assert attribute_map(attrs)["Name"] == [new]


@pytest.mark.parametrize("version", V1, ids=version_id)
def test_delete_attribute_1x(client):
    name = unique()
    uid = client.create(enums.CryptographicAlgorithm.AES, 128, name=name)
    got_uid, attribute = client.delete_attribute(unique_identifier=uid, attribute_name="Name",
                                                 attribute_index=0)
    assert got_uid == uid
    assert attribute.attribute_value.name_value.value == name
    _, attrs = client.get_attributes(uid, ["Name"])
    assert "Name" not in attribute_map(attrs)


@pytest.mark.parametrize("version", V2, ids=version_id)
def test_set_modify_delete_attribute_2_0(client):
    uid = client.create(enums.CryptographicAlgorithm.AES, 128, name=unique())
    assert client.set_attribute(unique_identifier=uid, attribute_name="Contact Information",
                                attribute_value="ops@example.org") == uid
    _, attrs = client.get_attributes(uid, ["Contact Information"])
    assert attribute_map(attrs)["Contact Information"] == ["ops@example.org"]

    got_uid, attribute = client.modify_attribute(
        unique_identifier=uid,
        new_attribute=cobjects.NewAttribute(
            attribute=cattributes.ContactInformation("security@example.org")))
    assert got_uid == uid and attribute is None
    _, attrs = client.get_attributes(uid, ["Contact Information"])
    assert attribute_map(attrs)["Contact Information"] == ["security@example.org"]

    got_uid, attribute = client.delete_attribute(
        unique_identifier=uid,
        attribute_reference=cobjects.AttributeReference(
            vendor_identification="", attribute_name="Contact Information"))
    assert got_uid == uid and attribute is None
    _, attrs = client.get_attributes(uid, ["Contact Information"])
    assert "Contact Information" not in attribute_map(attrs)


@pytest.mark.parametrize("version", V2, ids=version_id)
def test_modify_and_delete_name_2_0_with_current_attribute(client):
    old, new = unique("old"), unique("new")
    uid = client.create(enums.CryptographicAlgorithm.AES, 128, name=old)
    name_type = enums.NameType.UNINTERPRETED_TEXT_STRING
    client.modify_attribute(
        unique_identifier=uid,
        current_attribute=cobjects.CurrentAttribute(
            attribute=cattributes.Name.create(old, name_type)),
        new_attribute=cobjects.NewAttribute(attribute=cattributes.Name.create(new, name_type)))
    _, attrs = client.get_attributes(uid, ["Name"])
    assert attribute_map(attrs)["Name"] == [new]
    client.delete_attribute(
        unique_identifier=uid,
        current_attribute=cobjects.CurrentAttribute(
            attribute=cattributes.Name.create(new, name_type)))
    _, attrs = client.get_attributes(uid, ["Name"])
    assert "Name" not in attribute_map(attrs)


ASI = "Application Specific Information"


def asi_values(client, uid):
    _, attrs = client.get_attributes(uid, [ASI])
    return [(a.attribute_value.application_namespace,
             a.attribute_value.application_data)
            for a in attrs if a.attribute_name.value == ASI]


def test_application_specific_information_is_kept(client, version):
    from kmip.pie import objects
    infos = [{"application_namespace": "Testing", "application_data": "Testing2"},
             {"application_namespace": "Testing3", "application_data": "Testing4"}]
    secret = objects.SecretData(b"SecretPassword", enums.SecretDataType.PASSWORD,
                                app_specific_info=infos, name=unique("asi"))
    uid = client.register(secret)
    assert asi_values(client, uid) == [("Testing", "Testing2"), ("Testing3", "Testing4")]
    assert ASI in client.get_attribute_list(uid)
    assert ASI in attribute_map(client.get_attributes(uid)[1])
    assert client.get(uid).value == b"SecretPassword"
    if version < enums.KMIPVersion.KMIP_2_0:
        got_uid, deleted = client.delete_attribute(unique_identifier=uid, attribute_name=ASI,
                                                   attribute_index=1)
        assert got_uid == uid
        assert deleted.attribute_value.application_namespace == "Testing3"
    else:
        client.delete_attribute(
            unique_identifier=uid,
            current_attribute=cobjects.CurrentAttribute(
                attribute=cattributes.ApplicationSpecificInformation(
                    application_namespace="Testing3", application_data="Testing4")))
    assert asi_values(client, uid) == [("Testing", "Testing2")]


@pytest.mark.parametrize("version", V1, ids=version_id)
def test_modify_application_specific_information_1x(client):
    from kmip.pie import objects
    secret = objects.SecretData(b"pw", enums.SecretDataType.PASSWORD, app_specific_info=[
        {"application_namespace": "ns", "application_data": "old"}], name=unique("asi"))
    uid = client.register(secret)
    client.modify_attribute(unique_identifier=uid, attribute=af.create_attribute(
        enums.AttributeType.APPLICATION_SPECIFIC_INFORMATION,
        {"application_namespace": "ns", "application_data": "new"}))
    assert asi_values(client, uid) == [("ns", "new")]


# --- Name: several instances ---------------------------------------------------------------

def register_named(client, *names):
    key = objects.SymmetricKey(enums.CryptographicAlgorithm.AES, 128, os.urandom(16),
                               masks=[U.ENCRYPT, U.DECRYPT])
    key.names = list(names)
    return client.register(key)


def names_of(client, uid):
    _, attrs = client.get_attributes(uid, ["Name"])
    return attribute_map(attrs).get("Name", [])


def located(client, name):
    return client.locate(attributes=[af.create_attribute(enums.AttributeType.NAME, name)])


def test_register_keeps_every_name_and_locate_finds_each(client):
    a, b, shared = unique("a"), unique("b"), unique("shared")
    uid = register_named(client, a, b, shared)
    other = register_named(client, shared)
    assert names_of(client, uid) == [a, b, shared]
    assert located(client, a) == [uid]
    assert located(client, b) == [uid]
    # Names need not be unique: both objects, newest first.
    assert located(client, shared) == [other, uid]


@pytest.mark.parametrize("version", V1, ids=version_id)
def test_modify_and_delete_one_name_by_index_1x(client):
    a, b, c = unique("a"), unique("b"), unique("c")
    uid = register_named(client, a, b)
    name_c = af.create_attribute(enums.AttributeType.NAME, c)
    name_c.attribute_index = cobjects.Attribute.AttributeIndex(1)
    _, attribute = client.modify_attribute(unique_identifier=uid, attribute=name_c)
    assert attribute.attribute_value.name_value.value == c
    assert names_of(client, uid) == [a, c]
    assert located(client, b) == []
    _, deleted = client.delete_attribute(unique_identifier=uid, attribute_name="Name",
                                         attribute_index=1)
    assert deleted.attribute_value.name_value.value == c
    assert names_of(client, uid) == [a]
    with kmip_failure(enums.ResultReason.ITEM_NOT_FOUND):
        client.delete_attribute(unique_identifier=uid, attribute_name="Name",
                                attribute_index=3)


@pytest.mark.parametrize("version", V2, ids=version_id)
def test_modify_and_delete_one_name_by_current_attribute_2_0(client):
    a, b, c = unique("a"), unique("b"), unique("c")
    uid = register_named(client, a, b)
    name_type = enums.NameType.UNINTERPRETED_TEXT_STRING
    client.modify_attribute(
        unique_identifier=uid,
        current_attribute=cobjects.CurrentAttribute(attribute=cattributes.Name.create(
            b, name_type)),
        new_attribute=cobjects.NewAttribute(attribute=cattributes.Name.create(c, name_type)))
    assert names_of(client, uid) == [a, c]
    client.delete_attribute(
        unique_identifier=uid,
        current_attribute=cobjects.CurrentAttribute(attribute=cattributes.Name.create(
            a, name_type)))
    assert names_of(client, uid) == [c]
    with kmip_failure(enums.ResultReason.MULTI_VALUED_ATTRIBUTE):
        client.set_attribute(unique_identifier=uid, attribute_name="Name",
                             attribute_value=unique("x"))


# --- Activation Date -----------------------------------------------------------------------

def create_with_activation_date(proxy, date):
    template = cobjects.TemplateAttribute(attributes=[
        af.create_attribute(enums.AttributeType.CRYPTOGRAPHIC_ALGORITHM,
                            enums.CryptographicAlgorithm.AES),
        af.create_attribute(enums.AttributeType.CRYPTOGRAPHIC_LENGTH, 256),
        af.create_attribute(enums.AttributeType.CRYPTOGRAPHIC_USAGE_MASK,
                            [U.ENCRYPT, U.DECRYPT]),
        af.create_attribute(enums.AttributeType.ACTIVATION_DATE, date),
    ])
    result = proxy.create(enums.ObjectType.SYMMETRIC_KEY, template)
    assert result.result_status.value == enums.ResultStatus.SUCCESS, result.result_message
    return result.uuid


def state_and_date(client, uid):
    _, attrs = client.get_attributes(uid, ["State", "Activation Date"])
    m = attribute_map(attrs)
    return m["State"][0], m.get("Activation Date", [None])[0]


def test_create_with_an_activation_date(client, proxy):
    past = int(time.time()) - 3600
    uid = create_with_activation_date(proxy, past)
    assert state_and_date(client, uid) == (enums.State.ACTIVE, past)
    future = int(time.time()) + 86400
    uid = create_with_activation_date(proxy, future)
    assert state_and_date(client, uid) == (enums.State.PRE_ACTIVE, future)


@pytest.mark.parametrize("version", V1, ids=version_id)
def test_modify_the_activation_date_while_pre_active_1x(client, proxy):
    future = int(time.time()) + 86400
    uid = create_with_activation_date(proxy, future)
    later = future + 3600
    client.modify_attribute(unique_identifier=uid, attribute=af.create_attribute(
        enums.AttributeType.ACTIVATION_DATE, later))
    assert state_and_date(client, uid) == (enums.State.PRE_ACTIVE, later)
    now = int(time.time())
    client.modify_attribute(unique_identifier=uid, attribute=af.create_attribute(
        enums.AttributeType.ACTIVATION_DATE, now))
    assert state_and_date(client, uid) == (enums.State.ACTIVE, now)
    # Once active, the date is fixed.
    with kmip_failure(enums.ResultReason.PERMISSION_DENIED):
        client.modify_attribute(unique_identifier=uid, attribute=af.create_attribute(
            enums.AttributeType.ACTIVATION_DATE, later))


@pytest.mark.parametrize("version", V2, ids=version_id)
def test_set_the_activation_date_while_pre_active_2_0(client):
    uid = client.create(enums.CryptographicAlgorithm.AES, 256, name=unique())
    future = int(time.time()) + 86400
    client.set_attribute(unique_identifier=uid, attribute_name="Activation Date",
                         attribute_value=future)
    assert state_and_date(client, uid) == (enums.State.PRE_ACTIVE, future)
    now = int(time.time())
    client.set_attribute(unique_identifier=uid, attribute_name="Activation Date",
                         attribute_value=now)
    assert state_and_date(client, uid) == (enums.State.ACTIVE, now)
    with kmip_failure(enums.ResultReason.WRONG_KEY_LIFECYCLE_STATE):
        client.set_attribute(unique_identifier=uid, attribute_name="Activation Date",
                             attribute_value=future)


# --- Cryptographic Usage Mask --------------------------------------------------------------

def usage_mask(client, uid):
    _, attrs = client.get_attributes(uid, ["Cryptographic Usage Mask"])
    return attribute_map(attrs)["Cryptographic Usage Mask"][0]


def test_the_usage_mask_is_returned_as_given(client):
    uid = client.register(objects.SymmetricKey(
        enums.CryptographicAlgorithm.AES, 128, os.urandom(16),
        masks=[U.DECRYPT, U.WRAP_KEY, U.UNWRAP_KEY], name=unique("mask")))
    assert usage_mask(client, uid) == U.DECRYPT.value | U.WRAP_KEY.value | U.UNWRAP_KEY.value
    # pie's create() always adds Encrypt and Decrypt.
    uid = client.create(enums.CryptographicAlgorithm.AES, 256,
                        cryptographic_usage_mask=[U.MAC_GENERATE])
    assert usage_mask(client, uid) == U.ENCRYPT.value | U.DECRYPT.value | \
        U.MAC_GENERATE.value


@pytest.mark.parametrize("version", V12, ids=version_id)
def test_a_key_without_the_encrypt_bit_refuses_encrypt(client, version):
    uid = client.register(objects.SymmetricKey(
        enums.CryptographicAlgorithm.AES, 128, os.urandom(16), masks=[U.DECRYPT],
        name=unique("decrypt-only")))
    client.activate(uid)
    reason = (enums.ResultReason.INCOMPATIBLE_CRYPTOGRAPHIC_USAGE_MASK
              if version >= enums.KMIPVersion.KMIP_2_0 else enums.ResultReason.PERMISSION_DENIED)
    with kmip_failure(reason) as f:
        client.encrypt(b"sixteen bytes!!!", uid=uid, cryptographic_parameters={
            "cryptographic_algorithm": enums.CryptographicAlgorithm.AES,
            "block_cipher_mode": enums.BlockCipherMode.CBC,
            "padding_method": enums.PaddingMethod.PKCS5})
    assert "usage mask" in (f.message or "")


@pytest.mark.parametrize("version", V1, ids=version_id)
def test_the_usage_mask_is_read_only_1x(client):
    uid = client.create(enums.CryptographicAlgorithm.AES, 256)
    with kmip_failure(enums.ResultReason.PERMISSION_DENIED):
        client.modify_attribute(unique_identifier=uid, attribute=af.create_attribute(
            enums.AttributeType.CRYPTOGRAPHIC_USAGE_MASK, [U.ENCRYPT]))
    assert usage_mask(client, uid) == U.ENCRYPT.value | U.DECRYPT.value


@pytest.mark.parametrize("version", V2, ids=version_id)
def test_the_usage_mask_is_read_only_2_0(client):
    uid = client.create(enums.CryptographicAlgorithm.AES, 256)
    with kmip_failure(enums.ResultReason.READ_ONLY_ATTRIBUTE):
        client.set_attribute(unique_identifier=uid,
                             attribute_name="Cryptographic Usage Mask",
                             attribute_value=[U.ENCRYPT])
    assert usage_mask(client, uid) == U.ENCRYPT.value | U.DECRYPT.value
