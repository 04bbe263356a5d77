"""Locate: newest first, Maximum Items, Offset Items, attribute filters."""

import pytest
from kmip.core import enums
from kmip.core.factories.attributes import AttributeFactory
from kmip.pie import objects

from conftest import unique

af = AttributeFactory()


def name_attr(name):
    return af.create_attribute(enums.AttributeType.NAME, name)


def three_keys_named(client, name):
    """Creates three AES keys sharing one Name, oldest first."""
    return [client.create(enums.CryptographicAlgorithm.AES, 128, name=name) for _ in range(3)]


def test_locate_by_name_returns_newest_first(client):
    name = unique("locate")
    a, b, c = three_keys_named(client, name)
    assert client.locate(attributes=[name_attr(name)]) == [c, b, a]


def test_locate_maximum_items(client):
    name = unique("locate")
    a, b, c = three_keys_named(client, name)
    assert client.locate(maximum_items=2, attributes=[name_attr(name)]) == [c, b]
    assert client.locate(maximum_items=1, attributes=[name_attr(name)]) == [c]


def test_locate_offset_items(client):
    name = unique("locate")
    a, b, c = three_keys_named(client, name)
    assert client.locate(offset_items=1, attributes=[name_attr(name)]) == [b, a]
    assert client.locate(offset_items=1, maximum_items=1, attributes=[name_attr(name)]) == [b]
    assert client.locate(offset_items=3, attributes=[name_attr(name)]) == []


def test_locate_unknown_name_is_empty(client):
    assert client.locate(attributes=[name_attr(unique("nothing"))]) == []


def test_locate_filters_by_object_type_and_algorithm(client):
    name = unique("locate")
    key = client.create(enums.CryptographicAlgorithm.AES, 256, name=name)
    hmac_key = client.create(enums.CryptographicAlgorithm.HMAC_SHA256, 256, name=name)
    secret = client.register(objects.SecretData(b"s3cr3t", enums.SecretDataType.PASSWORD,
                                                name=name))
    assert client.locate(attributes=[name_attr(name)]) == [secret, hmac_key, key]
    assert client.locate(attributes=[
        name_attr(name),
        af.create_attribute(enums.AttributeType.OBJECT_TYPE, enums.ObjectType.SYMMETRIC_KEY),
    ]) == [hmac_key, key]
    assert client.locate(attributes=[
        name_attr(name),
        af.create_attribute(enums.AttributeType.OBJECT_TYPE, enums.ObjectType.SECRET_DATA),
    ]) == [secret]
    assert client.locate(attributes=[
        name_attr(name),
        af.create_attribute(enums.AttributeType.CRYPTOGRAPHIC_ALGORITHM,
                            enums.CryptographicAlgorithm.AES),
    ]) == [key]
    assert client.locate(attributes=[
        name_attr(name),
        af.create_attribute(enums.AttributeType.CRYPTOGRAPHIC_ALGORITHM,
                            enums.CryptographicAlgorithm.AES),
        af.create_attribute(enums.AttributeType.CRYPTOGRAPHIC_LENGTH, 128),
    ]) == []


def test_locate_filters_by_state(client):
    name = unique("locate")
    pre = client.create(enums.CryptographicAlgorithm.AES, 128, name=name)
    active = client.create(enums.CryptographicAlgorithm.AES, 128, name=name)
    client.activate(active)
    state = enums.AttributeType.STATE
    assert client.locate(attributes=[
        name_attr(name), af.create_attribute(state, enums.State.ACTIVE)]) == [active]
    assert client.locate(attributes=[
        name_attr(name), af.create_attribute(state, enums.State.PRE_ACTIVE)]) == [pre]


def test_locate_does_not_return_destroyed_objects(client):
    name = unique("locate")
    a, b, c = three_keys_named(client, name)
    client.destroy(b)
    assert client.locate(attributes=[name_attr(name)]) == [c, a]


def test_locate_key_pair_members(client):
    pub_name, priv_name = unique("pub"), unique("priv")
    pub, priv = client.create_key_pair(enums.CryptographicAlgorithm.RSA, 2048,
                                       public_name=pub_name, private_name=priv_name,
                                       public_usage_mask=[enums.CryptographicUsageMask.VERIFY],
                                       private_usage_mask=[enums.CryptographicUsageMask.SIGN])
    assert client.locate(attributes=[name_attr(pub_name)]) == [pub]
    assert client.locate(attributes=[
        name_attr(priv_name),
        af.create_attribute(enums.AttributeType.OBJECT_TYPE, enums.ObjectType.PRIVATE_KEY),
    ]) == [priv]


@pytest.mark.parametrize("maximum", [1, 5])
def test_locate_without_filter_honours_maximum_items(client, maximum):
    client.create(enums.CryptographicAlgorithm.AES, 128)
    newest = client.create(enums.CryptographicAlgorithm.AES, 128)
    found = client.locate(maximum_items=maximum)
    assert 1 <= len(found) <= maximum
    assert found[0] == newest
