"""Life cycle: activate, revoke, destroy, check; failures and their Result Reasons."""

from kmip.core import enums

from conftest import LIFECYCLE_REFUSALS, attribute_map, create_aes, kmip_failure

NOT_FOUND = enums.ResultReason.ITEM_NOT_FOUND
U = enums.CryptographicUsageMask


def test_revoke_then_destroy(client):
    uid = create_aes(client)
    client.revoke(enums.RevocationReasonCode.CESSATION_OF_OPERATION, uid,
                  revocation_message="retired by the interop suite")
    _, attrs = client.get_attributes(uid, ["State"])
    assert attribute_map(attrs)["State"] == [enums.State.DEACTIVATED]
    client.destroy(uid)


def test_revoke_for_compromise_then_destroy(client):
    uid = create_aes(client)
    client.revoke(enums.RevocationReasonCode.KEY_COMPROMISE, uid,
                  compromise_occurrence_date=1_577_836_800)
    _, attrs = client.get_attributes(uid, ["State"])
    assert attribute_map(attrs)["State"] == [enums.State.COMPROMISED]
    client.destroy(uid)


def test_get_of_a_destroyed_object_fails_with_item_not_found(client):
    uid = create_aes(client)
    client.revoke(enums.RevocationReasonCode.CESSATION_OF_OPERATION, uid)
    client.destroy(uid)
    with kmip_failure(NOT_FOUND):
        client.get(uid)


def test_destroy_of_a_pre_active_object_succeeds(client):
    uid = client.create(enums.CryptographicAlgorithm.AES, 128)
    client.destroy(uid)
    with kmip_failure(NOT_FOUND):
        client.get(uid)


def test_destroy_of_an_active_object_fails(client):
    uid = create_aes(client)
    with kmip_failure(*LIFECYCLE_REFUSALS):
        client.destroy(uid)
    # Still there and usable.
    assert client.get(uid).cryptographic_length == 256


def test_unknown_identifier_is_item_not_found(client):
    missing = "00000000-0000-4000-8000-00000000dead"
    with kmip_failure(NOT_FOUND):
        client.get(missing)
    with kmip_failure(NOT_FOUND):
        client.activate(missing)
    with kmip_failure(NOT_FOUND):
        client.destroy(missing)
    with kmip_failure(NOT_FOUND):
        client.get_attributes(missing)


def test_activate_twice_fails(client):
    uid = create_aes(client)
    with kmip_failure(*LIFECYCLE_REFUSALS):
        client.activate(uid)


def test_check_returns_the_identifier(client):
    uid = create_aes(client)
    assert client.check(uid=uid, cryptographic_usage_mask=[U.ENCRYPT]) == uid


def test_check_refuses_a_usage_mask_the_object_does_not_permit(client, version):
    uid = client.create(enums.CryptographicAlgorithm.HMAC_SHA256, 256,
                        cryptographic_usage_mask=[U.MAC_GENERATE, U.MAC_VERIFY])
    client.activate(uid)
    assert client.check(uid=uid, cryptographic_usage_mask=[U.MAC_GENERATE, U.MAC_VERIFY]) == uid
    # KMIP 1.x has no Incompatible Cryptographic Usage Mask: Permission Denied, as Check's
    # error table says for "not allowed to use the object according to the attributes".
    reason = (enums.ResultReason.INCOMPATIBLE_CRYPTOGRAPHIC_USAGE_MASK
              if version >= enums.KMIPVersion.KMIP_2_0 else enums.ResultReason.PERMISSION_DENIED)
    with kmip_failure(reason) as f:
        client.check(uid=uid, cryptographic_usage_mask=[U.SIGN, U.ENCRYPT])
    assert "Cryptographic Usage Mask" in (f.message or "")


def test_check_usage_limits_and_lease_time_need_an_active_object(client):
    # PyKMIP's check() needs a usage mask whenever it is given anything else.
    uid = client.create(enums.CryptographicAlgorithm.AES, 256)
    enc = [U.ENCRYPT]
    with kmip_failure(*LIFECYCLE_REFUSALS):
        client.check(uid=uid, usage_limits_count=500, cryptographic_usage_mask=enc)
    with kmip_failure(*LIFECYCLE_REFUSALS):
        client.check(uid=uid, lease_time=3600, cryptographic_usage_mask=enc)
    assert client.check(uid=uid, cryptographic_usage_mask=enc) == uid
    client.activate(uid)
    assert client.check(uid=uid, usage_limits_count=500, lease_time=3600,
                        cryptographic_usage_mask=enc) == uid
    with kmip_failure(enums.ResultReason.INVALID_FIELD):
        client.check(uid=uid, usage_limits_count=0, cryptographic_usage_mask=enc)
