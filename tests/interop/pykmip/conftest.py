"""Shared fixtures of the PyKMIP 0.11 interoperability suite.

The server under test is given by environment variables:
  KEYHOLD_KMIP_HOST, KEYHOLD_KMIP_PORT  where the KMIP (mutual TLS) listener is
  KEYHOLD_KMIP_CA                       the CA certificate that signed the server certificate
  KEYHOLD_KMIP_CERT, KEYHOLD_KMIP_KEY   a client certificate and key the server accepts

Every test creates its own objects (unique names), so tests may run in any order and share one
server. Tests are parametrized over every KMIP version PyKMIP 0.11 speaks.
"""

import contextlib
import os
import sys
import uuid
import warnings

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

warnings.filterwarnings("ignore", category=DeprecationWarning)
try:  # PyKMIP imports cipher classes that cryptography deprecates.
    from cryptography.utils import CryptographyDeprecationWarning
    warnings.filterwarnings("ignore", category=CryptographyDeprecationWarning)
except ImportError:  # pragma: no cover
    pass

from kmip.core import enums  # noqa: E402
from kmip.core import exceptions as core_exceptions  # noqa: E402
from kmip.pie import exceptions as pie_exceptions  # noqa: E402
from kmip.pie.client import ProxyKmipClient  # noqa: E402
from kmip.services.kmip_client import KMIPProxy  # noqa: E402

import fixtures  # noqa: E402

VERSIONS = [
    enums.KMIPVersion.KMIP_1_0,
    enums.KMIPVersion.KMIP_1_1,
    enums.KMIPVersion.KMIP_1_2,
    enums.KMIPVersion.KMIP_1_3,
    enums.KMIPVersion.KMIP_1_4,
    enums.KMIPVersion.KMIP_2_0,
]
V1 = [v for v in VERSIONS if v < enums.KMIPVersion.KMIP_2_0]
V2 = [enums.KMIPVersion.KMIP_2_0]
# DiscoverVersions and ReKeyKeyPair exist from KMIP 1.1; Encrypt, Decrypt, Sign,
# SignatureVerify and MAC from 1.2; the GCM tag and AAD fields from 1.4.
V11 = [v for v in VERSIONS if v >= enums.KMIPVersion.KMIP_1_1]
V12 = [v for v in VERSIONS if v >= enums.KMIPVersion.KMIP_1_2]
V14 = [v for v in VERSIONS if v >= enums.KMIPVersion.KMIP_1_4]


def version_id(v):
    return "kmip" + str(v.value).replace(".", "_")


def _env(name):
    value = os.environ.get(name)
    if not value:
        pytest.fail(
            "%s is not set: this suite runs against a live KMIP server; run it through "
            "`cargo test -p keyhold-cli --test kmip_pykmip` (or ./scripts/test.sh), or set "
            "KEYHOLD_KMIP_HOST/PORT/CA/CERT/KEY yourself" % name, pytrace=False)
    return value


class Server:
    def __init__(self):
        self.host = _env("KEYHOLD_KMIP_HOST")
        self.port = int(_env("KEYHOLD_KMIP_PORT"))
        self.ca = _env("KEYHOLD_KMIP_CA")
        self.cert = _env("KEYHOLD_KMIP_CERT")
        self.key = _env("KEYHOLD_KMIP_KEY")

    def pie(self, version, **overrides):
        """A not yet opened ProxyKmipClient."""
        args = dict(hostname=self.host, port=self.port, cert=self.cert, key=self.key,
                    ca=self.ca, config_file=fixtures.EMPTY_CONFIG, kmip_version=version)
        args.update(overrides)
        return ProxyKmipClient(**args)

    def proxy(self, version, **overrides):
        """A not yet opened KMIPProxy."""
        args = dict(host=self.host, port=self.port, certfile=self.cert, keyfile=self.key,
                    ca_certs=self.ca, config_file=fixtures.EMPTY_CONFIG, kmip_version=version)
        args.update(overrides)
        return KMIPProxy(**args)


@pytest.fixture(scope="session")
def server():
    return Server()


@pytest.fixture(params=VERSIONS, ids=version_id)
def version(request):
    return request.param


@pytest.fixture
def client(server, version):
    """An open ProxyKmipClient speaking `version`."""
    c = server.pie(version)
    c.open()
    try:
        yield c
    finally:
        c.close()


@pytest.fixture
def proxy(server, version):
    """An open low-level KMIPProxy speaking `version`."""
    p = server.proxy(version)
    p.open()
    try:
        yield p
    finally:
        p.close()


@pytest.fixture(scope="session")
def material():
    return fixtures.load()


def unique(prefix="pykmip"):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:12])


@contextlib.contextmanager
def kmip_failure(*reasons):
    """Expects a KMIP failure whose Result Reason is one of `reasons`; yields a holder whose
    `.reason` is the one received."""
    class Holder:
        reason = None
        message = None
    holder = Holder()
    try:
        yield holder
    except (pie_exceptions.KmipOperationFailure, core_exceptions.OperationFailure) as e:
        holder.reason = e.reason
        holder.message = getattr(e, "message", None)
        assert e.reason in reasons, "expected %s, got %s (%s)" % (
            " or ".join(r.name for r in reasons), e.reason, holder.message)
    else:
        raise AssertionError("expected a KMIP failure (%s), the operation succeeded" % (
            " or ".join(r.name for r in reasons)))


LIFECYCLE_REFUSALS = (
    enums.ResultReason.WRONG_KEY_LIFECYCLE_STATE,
    enums.ResultReason.PERMISSION_DENIED,
    enums.ResultReason.ILLEGAL_OPERATION,
)


def attribute_map(attributes):
    """Attribute Name -> list of python values, from pie get_attributes() output."""
    out = {}
    for a in attributes:
        name = a.attribute_name.value
        value = a.attribute_value
        if name == "Name":
            value = value.name_value.value
        elif hasattr(value, "value"):
            value = value.value
        out.setdefault(name, []).append(value)
    return out


def create_aes(client, length=256, name=None, masks=None, activate=True):
    uid = client.create(enums.CryptographicAlgorithm.AES, length, name=name,
                        cryptographic_usage_mask=masks)
    assert isinstance(uid, str) and uid
    if activate:
        client.activate(uid)
    return uid


def cleanup(client, *uids):
    """Best effort: revoke and destroy objects a test made (keeps Locate results small)."""
    for uid in uids:
        try:
            client.revoke(enums.RevocationReasonCode.CESSATION_OF_OPERATION, uid)
        except Exception:
            pass
        try:
            client.destroy(uid)
        except Exception:
            pass
