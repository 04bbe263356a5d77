-- Labels: the further, non-unique names of a key (KMIP Name instances), one row each, so that
-- listing can find keys by one. The key document holds them in order; these rows index them.
CREATE TABLE key_labels (
    key_id TEXT NOT NULL REFERENCES keys (id),
    label  TEXT NOT NULL,
    PRIMARY KEY (key_id, label)
) STRICT;

CREATE INDEX key_labels_label ON key_labels (label, key_id);

-- Before labels, a KMIP client's name was kept as the tag `kmip:name` (one per key): it becomes
-- the key's label, in the document and in the index.
INSERT INTO key_labels (key_id, label)
    SELECT key_id, value FROM key_tags WHERE tag = 'kmip:name' AND value <> '';

UPDATE keys
   SET doc = CAST(json_set(json_remove(CAST(doc AS TEXT), '$.tags."kmip:name"'),
                           '$.labels',
                           json_array(json_extract(CAST(doc AS TEXT), '$.tags."kmip:name"')))
                  AS BLOB)
 WHERE id IN (SELECT key_id FROM key_tags WHERE tag = 'kmip:name' AND value <> '');

UPDATE keys
   SET doc = CAST(json_remove(CAST(doc AS TEXT), '$.tags."kmip:name"') AS BLOB)
 WHERE id IN (SELECT key_id FROM key_tags WHERE tag = 'kmip:name' AND value = '');

DELETE FROM key_tags WHERE tag = 'kmip:name';
