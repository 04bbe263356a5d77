-- Client certificates that authenticate principals (mutual TLS), pinned by the SHA-256 of
-- their DER encoding.
CREATE TABLE client_certs (
    fingerprint TEXT PRIMARY KEY NOT NULL,
    tenant      TEXT NOT NULL,
    revision    INTEGER NOT NULL,
    doc         BLOB NOT NULL
) STRICT;

CREATE INDEX client_certs_tenant ON client_certs (tenant, fingerprint);
