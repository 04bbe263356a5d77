"""GetAttributes, GetAttributeList, ModifyAttribute, DeleteAttribute, SetAttribute."""

import pytest
from kmip.core import attributes as cattributes
from kmip.core import enums
from kmip.core import objects as cobjects
from kmip.core.factories.attributes import AttributeFactory

from conftest import V1, V2, attribute_map, create_aes, unique, version_id

af = AttributeFactory()

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
