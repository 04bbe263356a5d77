//! KMIP tag numbers (every tag of KMIP 1.0–2.0) and a name table.
//!
//! Tags are listed in numeric order. Each constant's documentation gives the
//! version that introduced it and, where it applies, when it was deprecated or
//! became reserved: a KMIP 2.x peer must not send a tag that 2.0 reserved,
//! and 2.x messages carry attributes in Attributes ([`ATTRIBUTES`]) rather
//! than Template-Attribute ([`TEMPLATE_ATTRIBUTE`]).
//!
//! Response messages reuse the request tags where the specification does:
//! a response's batch item is also [`BATCH_ITEM`], and a Query response lists
//! operations as repeated [`OPERATION`] items.
//!
//! Tags added after KMIP 2.0 (above `0x420165`) are not listed yet: [`name`]
//! returns `None` for them, and they decode like any other tag.

use crate::ttlv::Tag;

macro_rules! kmip_tags {
    ($( $(#[$doc:meta])* $name:ident = $value:literal, $text:literal; )+) => {
        $( $(#[$doc])* pub const $name: Tag = Tag::known($value); )+

        /// Every tag defined here with the specification's name for it, in
        /// increasing numeric order.
        pub const ALL: &[(Tag, &str)] = &[ $( ($name, $text), )+ ];
    };
}

/// The specification's name of `tag` (e.g. `"Request Message"`), for logs
/// and error messages; `None` for an extension or unassigned tag.
pub fn name(tag: Tag) -> Option<&'static str> {
    ALL.binary_search_by_key(&tag, |&(t, _)| t)
        .ok()
        .map(|i| ALL[i].1)
}

/// The tag the specification names `name`, exactly as spelled there
/// (e.g. `"Cryptographic Algorithm"`). In KMIP 1.x the Attribute Name of an
/// attribute is the name of its tag, so this maps one to the other.
pub fn by_name(name: &str) -> Option<Tag> {
    ALL.iter().find(|&&(_, n)| n == name).map(|&(t, _)| t)
}

kmip_tags! {
    /// Activation Date (`0x420001`), KMIP 1.0.
    ACTIVATION_DATE = 0x420001, "Activation Date";
    /// Application Data (`0x420002`), KMIP 1.0.
    APPLICATION_DATA = 0x420002, "Application Data";
    /// Application Namespace (`0x420003`), KMIP 1.0.
    APPLICATION_NAMESPACE = 0x420003, "Application Namespace";
    /// Application Specific Information (`0x420004`), KMIP 1.0.
    APPLICATION_SPECIFIC_INFORMATION = 0x420004, "Application Specific Information";
    /// Archive Date (`0x420005`), KMIP 1.0.
    ARCHIVE_DATE = 0x420005, "Archive Date";
    /// Asynchronous Correlation Value (`0x420006`), KMIP 1.0.
    ASYNCHRONOUS_CORRELATION_VALUE = 0x420006, "Asynchronous Correlation Value";
    /// Asynchronous Indicator (`0x420007`), KMIP 1.0.
    ASYNCHRONOUS_INDICATOR = 0x420007, "Asynchronous Indicator";
    /// Attribute (`0x420008`), KMIP 1.0.
    ATTRIBUTE = 0x420008, "Attribute";
    /// Attribute Index (`0x420009`), KMIP 1.0; reserved in 2.0.
    ATTRIBUTE_INDEX = 0x420009, "Attribute Index";
    /// Attribute Name (`0x42000A`), KMIP 1.0.
    ATTRIBUTE_NAME = 0x42000A, "Attribute Name";
    /// Attribute Value (`0x42000B`), KMIP 1.0.
    ATTRIBUTE_VALUE = 0x42000B, "Attribute Value";
    /// Authentication (`0x42000C`), KMIP 1.0.
    AUTHENTICATION = 0x42000C, "Authentication";
    /// Batch Count (`0x42000D`), KMIP 1.0.
    BATCH_COUNT = 0x42000D, "Batch Count";
    /// Batch Error Continuation Option (`0x42000E`), KMIP 1.0.
    BATCH_ERROR_CONTINUATION_OPTION = 0x42000E, "Batch Error Continuation Option";
    /// Batch Item (`0x42000F`), KMIP 1.0.
    BATCH_ITEM = 0x42000F, "Batch Item";
    /// Batch Order Option (`0x420010`), KMIP 1.0.
    BATCH_ORDER_OPTION = 0x420010, "Batch Order Option";
    /// Block Cipher Mode (`0x420011`), KMIP 1.0.
    BLOCK_CIPHER_MODE = 0x420011, "Block Cipher Mode";
    /// Cancellation Result (`0x420012`), KMIP 1.0.
    CANCELLATION_RESULT = 0x420012, "Cancellation Result";
    /// Certificate (`0x420013`), KMIP 1.0.
    CERTIFICATE = 0x420013, "Certificate";
    /// Certificate Identifier (`0x420014`), KMIP 1.0; deprecated in 1.1, reserved in 2.0.
    CERTIFICATE_IDENTIFIER = 0x420014, "Certificate Identifier";
    /// Certificate Issuer (`0x420015`), KMIP 1.0; deprecated in 1.1, reserved in 2.0.
    CERTIFICATE_ISSUER = 0x420015, "Certificate Issuer";
    /// Certificate Issuer Alternative Name (`0x420016`), KMIP 1.0; deprecated in 1.1, reserved in 2.0.
    CERTIFICATE_ISSUER_ALTERNATIVE_NAME = 0x420016, "Certificate Issuer Alternative Name";
    /// Certificate Issuer Distinguished Name (`0x420017`), KMIP 1.0; deprecated in 1.1, reserved in 2.0.
    CERTIFICATE_ISSUER_DISTINGUISHED_NAME = 0x420017, "Certificate Issuer Distinguished Name";
    /// Certificate Request (`0x420018`), KMIP 1.0.
    CERTIFICATE_REQUEST = 0x420018, "Certificate Request";
    /// Certificate Request Type (`0x420019`), KMIP 1.0.
    CERTIFICATE_REQUEST_TYPE = 0x420019, "Certificate Request Type";
    /// Certificate Subject (`0x42001A`), KMIP 1.0; deprecated in 1.1, reserved in 2.0.
    CERTIFICATE_SUBJECT = 0x42001A, "Certificate Subject";
    /// Certificate Subject Alternative Name (`0x42001B`), KMIP 1.0; deprecated in 1.1, reserved in 2.0.
    CERTIFICATE_SUBJECT_ALTERNATIVE_NAME = 0x42001B, "Certificate Subject Alternative Name";
    /// Certificate Subject Distinguished Name (`0x42001C`), KMIP 1.0; deprecated in 1.1, reserved in 2.0.
    CERTIFICATE_SUBJECT_DISTINGUISHED_NAME = 0x42001C, "Certificate Subject Distinguished Name";
    /// Certificate Type (`0x42001D`), KMIP 1.0.
    CERTIFICATE_TYPE = 0x42001D, "Certificate Type";
    /// Certificate Value (`0x42001E`), KMIP 1.0.
    CERTIFICATE_VALUE = 0x42001E, "Certificate Value";
    /// Common Template-Attribute (`0x42001F`), KMIP 1.0; reserved in 2.0.
    COMMON_TEMPLATE_ATTRIBUTE = 0x42001F, "Common Template-Attribute";
    /// Compromise Date (`0x420020`), KMIP 1.0.
    COMPROMISE_DATE = 0x420020, "Compromise Date";
    /// Compromise Occurrence Date (`0x420021`), KMIP 1.0.
    COMPROMISE_OCCURRENCE_DATE = 0x420021, "Compromise Occurrence Date";
    /// Contact Information (`0x420022`), KMIP 1.0.
    CONTACT_INFORMATION = 0x420022, "Contact Information";
    /// Credential (`0x420023`), KMIP 1.0.
    CREDENTIAL = 0x420023, "Credential";
    /// Credential Type (`0x420024`), KMIP 1.0.
    CREDENTIAL_TYPE = 0x420024, "Credential Type";
    /// Credential Value (`0x420025`), KMIP 1.0.
    CREDENTIAL_VALUE = 0x420025, "Credential Value";
    /// Criticality Indicator (`0x420026`), KMIP 1.0.
    CRITICALITY_INDICATOR = 0x420026, "Criticality Indicator";
    /// CRT Coefficient (`0x420027`), KMIP 1.0.
    CRT_COEFFICIENT = 0x420027, "CRT Coefficient";
    /// Cryptographic Algorithm (`0x420028`), KMIP 1.0.
    CRYPTOGRAPHIC_ALGORITHM = 0x420028, "Cryptographic Algorithm";
    /// Cryptographic Domain Parameters (`0x420029`), KMIP 1.0.
    CRYPTOGRAPHIC_DOMAIN_PARAMETERS = 0x420029, "Cryptographic Domain Parameters";
    /// Cryptographic Length (`0x42002A`), KMIP 1.0.
    CRYPTOGRAPHIC_LENGTH = 0x42002A, "Cryptographic Length";
    /// Cryptographic Parameters (`0x42002B`), KMIP 1.0.
    CRYPTOGRAPHIC_PARAMETERS = 0x42002B, "Cryptographic Parameters";
    /// Cryptographic Usage Mask (`0x42002C`), KMIP 1.0.
    CRYPTOGRAPHIC_USAGE_MASK = 0x42002C, "Cryptographic Usage Mask";
    /// Custom Attribute (`0x42002D`), KMIP 1.0; reserved in 2.0.
    CUSTOM_ATTRIBUTE = 0x42002D, "Custom Attribute";
    /// D (`0x42002E`), KMIP 1.0.
    D = 0x42002E, "D";
    /// Deactivation Date (`0x42002F`), KMIP 1.0.
    DEACTIVATION_DATE = 0x42002F, "Deactivation Date";
    /// Derivation Data (`0x420030`), KMIP 1.0.
    DERIVATION_DATA = 0x420030, "Derivation Data";
    /// Derivation Method (`0x420031`), KMIP 1.0.
    DERIVATION_METHOD = 0x420031, "Derivation Method";
    /// Derivation Parameters (`0x420032`), KMIP 1.0.
    DERIVATION_PARAMETERS = 0x420032, "Derivation Parameters";
    /// Destroy Date (`0x420033`), KMIP 1.0.
    DESTROY_DATE = 0x420033, "Destroy Date";
    /// Digest (`0x420034`), KMIP 1.0.
    DIGEST = 0x420034, "Digest";
    /// Digest Value (`0x420035`), KMIP 1.0.
    DIGEST_VALUE = 0x420035, "Digest Value";
    /// Encryption Key Information (`0x420036`), KMIP 1.0.
    ENCRYPTION_KEY_INFORMATION = 0x420036, "Encryption Key Information";
    /// G (`0x420037`), KMIP 1.0.
    G = 0x420037, "G";
    /// Hashing Algorithm (`0x420038`), KMIP 1.0.
    HASHING_ALGORITHM = 0x420038, "Hashing Algorithm";
    /// Initial Date (`0x420039`), KMIP 1.0.
    INITIAL_DATE = 0x420039, "Initial Date";
    /// Initialization Vector (`0x42003A`), KMIP 1.0.
    INITIALIZATION_VECTOR = 0x42003A, "Initialization Vector";
    /// Issuer (`0x42003B`), KMIP 1.0; deprecated in 1.1, reserved in 2.0.
    ISSUER = 0x42003B, "Issuer";
    /// Iteration Count (`0x42003C`), KMIP 1.0.
    ITERATION_COUNT = 0x42003C, "Iteration Count";
    /// IV/Counter/Nonce (`0x42003D`), KMIP 1.0.
    IV_COUNTER_NONCE = 0x42003D, "IV/Counter/Nonce";
    /// J (`0x42003E`), KMIP 1.0.
    J = 0x42003E, "J";
    /// Key (`0x42003F`), KMIP 1.0.
    KEY = 0x42003F, "Key";
    /// Key Block (`0x420040`), KMIP 1.0.
    KEY_BLOCK = 0x420040, "Key Block";
    /// Key Compression Type (`0x420041`), KMIP 1.0.
    KEY_COMPRESSION_TYPE = 0x420041, "Key Compression Type";
    /// Key Format Type (`0x420042`), KMIP 1.0.
    KEY_FORMAT_TYPE = 0x420042, "Key Format Type";
    /// Key Material (`0x420043`), KMIP 1.0.
    KEY_MATERIAL = 0x420043, "Key Material";
    /// Key Part Identifier (`0x420044`), KMIP 1.0.
    KEY_PART_IDENTIFIER = 0x420044, "Key Part Identifier";
    /// Key Value (`0x420045`), KMIP 1.0.
    KEY_VALUE = 0x420045, "Key Value";
    /// Key Wrapping Data (`0x420046`), KMIP 1.0.
    KEY_WRAPPING_DATA = 0x420046, "Key Wrapping Data";
    /// Key Wrapping Specification (`0x420047`), KMIP 1.0.
    KEY_WRAPPING_SPECIFICATION = 0x420047, "Key Wrapping Specification";
    /// Last Change Date (`0x420048`), KMIP 1.0.
    LAST_CHANGE_DATE = 0x420048, "Last Change Date";
    /// Lease Time (`0x420049`), KMIP 1.0.
    LEASE_TIME = 0x420049, "Lease Time";
    /// Link (`0x42004A`), KMIP 1.0.
    LINK = 0x42004A, "Link";
    /// Link Type (`0x42004B`), KMIP 1.0.
    LINK_TYPE = 0x42004B, "Link Type";
    /// Linked Object Identifier (`0x42004C`), KMIP 1.0.
    LINKED_OBJECT_IDENTIFIER = 0x42004C, "Linked Object Identifier";
    /// MAC/Signature (`0x42004D`), KMIP 1.0.
    MAC_SIGNATURE = 0x42004D, "MAC/Signature";
    /// MAC/Signature Key Information (`0x42004E`), KMIP 1.0.
    MAC_SIGNATURE_KEY_INFORMATION = 0x42004E, "MAC/Signature Key Information";
    /// Maximum Items (`0x42004F`), KMIP 1.0.
    MAXIMUM_ITEMS = 0x42004F, "Maximum Items";
    /// Maximum Response Size (`0x420050`), KMIP 1.0.
    MAXIMUM_RESPONSE_SIZE = 0x420050, "Maximum Response Size";
    /// Message Extension (`0x420051`), KMIP 1.0.
    MESSAGE_EXTENSION = 0x420051, "Message Extension";
    /// Modulus (`0x420052`), KMIP 1.0.
    MODULUS = 0x420052, "Modulus";
    /// Name (`0x420053`), KMIP 1.0.
    NAME = 0x420053, "Name";
    /// Name Type (`0x420054`), KMIP 1.0.
    NAME_TYPE = 0x420054, "Name Type";
    /// Name Value (`0x420055`), KMIP 1.0.
    NAME_VALUE = 0x420055, "Name Value";
    /// Object Group (`0x420056`), KMIP 1.0.
    OBJECT_GROUP = 0x420056, "Object Group";
    /// Object Type (`0x420057`), KMIP 1.0.
    OBJECT_TYPE = 0x420057, "Object Type";
    /// Offset (`0x420058`), KMIP 1.0.
    OFFSET = 0x420058, "Offset";
    /// Opaque Data Type (`0x420059`), KMIP 1.0.
    OPAQUE_DATA_TYPE = 0x420059, "Opaque Data Type";
    /// Opaque Data Value (`0x42005A`), KMIP 1.0.
    OPAQUE_DATA_VALUE = 0x42005A, "Opaque Data Value";
    /// Opaque Object (`0x42005B`), KMIP 1.0.
    OPAQUE_OBJECT = 0x42005B, "Opaque Object";
    /// Operation (`0x42005C`), KMIP 1.0.
    OPERATION = 0x42005C, "Operation";
    /// Operation Policy Name (`0x42005D`), KMIP 1.0; reserved in 2.0.
    OPERATION_POLICY_NAME = 0x42005D, "Operation Policy Name";
    /// P (`0x42005E`), KMIP 1.0.
    P = 0x42005E, "P";
    /// Padding Method (`0x42005F`), KMIP 1.0.
    PADDING_METHOD = 0x42005F, "Padding Method";
    /// Prime Exponent P (`0x420060`), KMIP 1.0.
    PRIME_EXPONENT_P = 0x420060, "Prime Exponent P";
    /// Prime Exponent Q (`0x420061`), KMIP 1.0.
    PRIME_EXPONENT_Q = 0x420061, "Prime Exponent Q";
    /// Prime Field Size (`0x420062`), KMIP 1.0.
    PRIME_FIELD_SIZE = 0x420062, "Prime Field Size";
    /// Private Exponent (`0x420063`), KMIP 1.0.
    PRIVATE_EXPONENT = 0x420063, "Private Exponent";
    /// Private Key (`0x420064`), KMIP 1.0.
    PRIVATE_KEY = 0x420064, "Private Key";
    /// Private Key Template-Attribute (`0x420065`), KMIP 1.0; reserved in 2.0.
    PRIVATE_KEY_TEMPLATE_ATTRIBUTE = 0x420065, "Private Key Template-Attribute";
    /// Private Key Unique Identifier (`0x420066`), KMIP 1.0.
    PRIVATE_KEY_UNIQUE_IDENTIFIER = 0x420066, "Private Key Unique Identifier";
    /// Process Start Date (`0x420067`), KMIP 1.0.
    PROCESS_START_DATE = 0x420067, "Process Start Date";
    /// Protect Stop Date (`0x420068`), KMIP 1.0.
    PROTECT_STOP_DATE = 0x420068, "Protect Stop Date";
    /// Protocol Version (`0x420069`), KMIP 1.0.
    PROTOCOL_VERSION = 0x420069, "Protocol Version";
    /// Protocol Version Major (`0x42006A`), KMIP 1.0.
    PROTOCOL_VERSION_MAJOR = 0x42006A, "Protocol Version Major";
    /// Protocol Version Minor (`0x42006B`), KMIP 1.0.
    PROTOCOL_VERSION_MINOR = 0x42006B, "Protocol Version Minor";
    /// Public Exponent (`0x42006C`), KMIP 1.0.
    PUBLIC_EXPONENT = 0x42006C, "Public Exponent";
    /// Public Key (`0x42006D`), KMIP 1.0.
    PUBLIC_KEY = 0x42006D, "Public Key";
    /// Public Key Template-Attribute (`0x42006E`), KMIP 1.0; reserved in 2.0.
    PUBLIC_KEY_TEMPLATE_ATTRIBUTE = 0x42006E, "Public Key Template-Attribute";
    /// Public Key Unique Identifier (`0x42006F`), KMIP 1.0.
    PUBLIC_KEY_UNIQUE_IDENTIFIER = 0x42006F, "Public Key Unique Identifier";
    /// Put Function (`0x420070`), KMIP 1.0.
    PUT_FUNCTION = 0x420070, "Put Function";
    /// Q (`0x420071`), KMIP 1.0.
    Q = 0x420071, "Q";
    /// Q String (`0x420072`), KMIP 1.0.
    Q_STRING = 0x420072, "Q String";
    /// Qlength (`0x420073`), KMIP 1.0.
    QLENGTH = 0x420073, "Qlength";
    /// Query Function (`0x420074`), KMIP 1.0.
    QUERY_FUNCTION = 0x420074, "Query Function";
    /// Recommended Curve (`0x420075`), KMIP 1.0.
    RECOMMENDED_CURVE = 0x420075, "Recommended Curve";
    /// Replaced Unique Identifier (`0x420076`), KMIP 1.0.
    REPLACED_UNIQUE_IDENTIFIER = 0x420076, "Replaced Unique Identifier";
    /// Request Header (`0x420077`), KMIP 1.0.
    REQUEST_HEADER = 0x420077, "Request Header";
    /// Request Message (`0x420078`), KMIP 1.0.
    REQUEST_MESSAGE = 0x420078, "Request Message";
    /// Request Payload (`0x420079`), KMIP 1.0.
    REQUEST_PAYLOAD = 0x420079, "Request Payload";
    /// Response Header (`0x42007A`), KMIP 1.0.
    RESPONSE_HEADER = 0x42007A, "Response Header";
    /// Response Message (`0x42007B`), KMIP 1.0.
    RESPONSE_MESSAGE = 0x42007B, "Response Message";
    /// Response Payload (`0x42007C`), KMIP 1.0.
    RESPONSE_PAYLOAD = 0x42007C, "Response Payload";
    /// Result Message (`0x42007D`), KMIP 1.0.
    RESULT_MESSAGE = 0x42007D, "Result Message";
    /// Result Reason (`0x42007E`), KMIP 1.0.
    RESULT_REASON = 0x42007E, "Result Reason";
    /// Result Status (`0x42007F`), KMIP 1.0.
    RESULT_STATUS = 0x42007F, "Result Status";
    /// Revocation Message (`0x420080`), KMIP 1.0.
    REVOCATION_MESSAGE = 0x420080, "Revocation Message";
    /// Revocation Reason (`0x420081`), KMIP 1.0.
    REVOCATION_REASON = 0x420081, "Revocation Reason";
    /// Revocation Reason Code (`0x420082`), KMIP 1.0.
    REVOCATION_REASON_CODE = 0x420082, "Revocation Reason Code";
    /// Key Role Type (`0x420083`), KMIP 1.0.
    KEY_ROLE_TYPE = 0x420083, "Key Role Type";
    /// Salt (`0x420084`), KMIP 1.0.
    SALT = 0x420084, "Salt";
    /// Secret Data (`0x420085`), KMIP 1.0.
    SECRET_DATA = 0x420085, "Secret Data";
    /// Secret Data Type (`0x420086`), KMIP 1.0.
    SECRET_DATA_TYPE = 0x420086, "Secret Data Type";
    /// Serial Number (`0x420087`), KMIP 1.0; deprecated in 1.1, reserved in 2.0.
    SERIAL_NUMBER = 0x420087, "Serial Number";
    /// Server Information (`0x420088`), KMIP 1.0.
    SERVER_INFORMATION = 0x420088, "Server Information";
    /// Split Key (`0x420089`), KMIP 1.0.
    SPLIT_KEY = 0x420089, "Split Key";
    /// Split Key Method (`0x42008A`), KMIP 1.0.
    SPLIT_KEY_METHOD = 0x42008A, "Split Key Method";
    /// Split Key Parts (`0x42008B`), KMIP 1.0.
    SPLIT_KEY_PARTS = 0x42008B, "Split Key Parts";
    /// Split Key Threshold (`0x42008C`), KMIP 1.0.
    SPLIT_KEY_THRESHOLD = 0x42008C, "Split Key Threshold";
    /// State (`0x42008D`), KMIP 1.0.
    STATE = 0x42008D, "State";
    /// Storage Status Mask (`0x42008E`), KMIP 1.0.
    STORAGE_STATUS_MASK = 0x42008E, "Storage Status Mask";
    /// Symmetric Key (`0x42008F`), KMIP 1.0.
    SYMMETRIC_KEY = 0x42008F, "Symmetric Key";
    /// Template (`0x420090`), KMIP 1.0; deprecated in 1.3, reserved in 2.0.
    TEMPLATE = 0x420090, "Template";
    /// Template-Attribute (`0x420091`), KMIP 1.0; reserved in 2.0, where Attributes (0x420125) replaces it.
    TEMPLATE_ATTRIBUTE = 0x420091, "Template-Attribute";
    /// Time Stamp (`0x420092`), KMIP 1.0.
    TIME_STAMP = 0x420092, "Time Stamp";
    /// Unique Batch Item ID (`0x420093`), KMIP 1.0.
    UNIQUE_BATCH_ITEM_ID = 0x420093, "Unique Batch Item ID";
    /// Unique Identifier (`0x420094`), KMIP 1.0.
    UNIQUE_IDENTIFIER = 0x420094, "Unique Identifier";
    /// Usage Limits (`0x420095`), KMIP 1.0.
    USAGE_LIMITS = 0x420095, "Usage Limits";
    /// Usage Limits Count (`0x420096`), KMIP 1.0.
    USAGE_LIMITS_COUNT = 0x420096, "Usage Limits Count";
    /// Usage Limits Total (`0x420097`), KMIP 1.0.
    USAGE_LIMITS_TOTAL = 0x420097, "Usage Limits Total";
    /// Usage Limits Unit (`0x420098`), KMIP 1.0.
    USAGE_LIMITS_UNIT = 0x420098, "Usage Limits Unit";
    /// Username (`0x420099`), KMIP 1.0.
    USERNAME = 0x420099, "Username";
    /// Validity Date (`0x42009A`), KMIP 1.0.
    VALIDITY_DATE = 0x42009A, "Validity Date";
    /// Validity Indicator (`0x42009B`), KMIP 1.0.
    VALIDITY_INDICATOR = 0x42009B, "Validity Indicator";
    /// Vendor Extension (`0x42009C`), KMIP 1.0.
    VENDOR_EXTENSION = 0x42009C, "Vendor Extension";
    /// Vendor Identification (`0x42009D`), KMIP 1.0.
    VENDOR_IDENTIFICATION = 0x42009D, "Vendor Identification";
    /// Wrapping Method (`0x42009E`), KMIP 1.0.
    WRAPPING_METHOD = 0x42009E, "Wrapping Method";
    /// X (`0x42009F`), KMIP 1.0.
    X = 0x42009F, "X";
    /// Y (`0x4200A0`), KMIP 1.0.
    Y = 0x4200A0, "Y";
    /// Password (`0x4200A1`), KMIP 1.0.
    PASSWORD = 0x4200A1, "Password";
    /// Device Identifier (`0x4200A2`), KMIP 1.1.
    DEVICE_IDENTIFIER = 0x4200A2, "Device Identifier";
    /// Encoding Option (`0x4200A3`), KMIP 1.1.
    ENCODING_OPTION = 0x4200A3, "Encoding Option";
    /// Extension Information (`0x4200A4`), KMIP 1.1.
    EXTENSION_INFORMATION = 0x4200A4, "Extension Information";
    /// Extension Name (`0x4200A5`), KMIP 1.1.
    EXTENSION_NAME = 0x4200A5, "Extension Name";
    /// Extension Tag (`0x4200A6`), KMIP 1.1.
    EXTENSION_TAG = 0x4200A6, "Extension Tag";
    /// Extension Type (`0x4200A7`), KMIP 1.1.
    EXTENSION_TYPE = 0x4200A7, "Extension Type";
    /// Fresh (`0x4200A8`), KMIP 1.1.
    FRESH = 0x4200A8, "Fresh";
    /// Machine Identifier (`0x4200A9`), KMIP 1.1.
    MACHINE_IDENTIFIER = 0x4200A9, "Machine Identifier";
    /// Media Identifier (`0x4200AA`), KMIP 1.1.
    MEDIA_IDENTIFIER = 0x4200AA, "Media Identifier";
    /// Network Identifier (`0x4200AB`), KMIP 1.1.
    NETWORK_IDENTIFIER = 0x4200AB, "Network Identifier";
    /// Object Group Member (`0x4200AC`), KMIP 1.1.
    OBJECT_GROUP_MEMBER = 0x4200AC, "Object Group Member";
    /// Certificate Length (`0x4200AD`), KMIP 1.1.
    CERTIFICATE_LENGTH = 0x4200AD, "Certificate Length";
    /// Digital Signature Algorithm (`0x4200AE`), KMIP 1.1.
    DIGITAL_SIGNATURE_ALGORITHM = 0x4200AE, "Digital Signature Algorithm";
    /// Certificate Serial Number (`0x4200AF`), KMIP 1.1.
    CERTIFICATE_SERIAL_NUMBER = 0x4200AF, "Certificate Serial Number";
    /// Device Serial Number (`0x4200B0`), KMIP 1.1.
    DEVICE_SERIAL_NUMBER = 0x4200B0, "Device Serial Number";
    /// Issuer Alternative Name (`0x4200B1`), KMIP 1.1.
    ISSUER_ALTERNATIVE_NAME = 0x4200B1, "Issuer Alternative Name";
    /// Issuer Distinguished Name (`0x4200B2`), KMIP 1.1.
    ISSUER_DISTINGUISHED_NAME = 0x4200B2, "Issuer Distinguished Name";
    /// Subject Alternative Name (`0x4200B3`), KMIP 1.1.
    SUBJECT_ALTERNATIVE_NAME = 0x4200B3, "Subject Alternative Name";
    /// Subject Distinguished Name (`0x4200B4`), KMIP 1.1.
    SUBJECT_DISTINGUISHED_NAME = 0x4200B4, "Subject Distinguished Name";
    /// X.509 Certificate Identifier (`0x4200B5`), KMIP 1.1.
    X509_CERTIFICATE_IDENTIFIER = 0x4200B5, "X.509 Certificate Identifier";
    /// X.509 Certificate Issuer (`0x4200B6`), KMIP 1.1.
    X509_CERTIFICATE_ISSUER = 0x4200B6, "X.509 Certificate Issuer";
    /// X.509 Certificate Subject (`0x4200B7`), KMIP 1.1.
    X509_CERTIFICATE_SUBJECT = 0x4200B7, "X.509 Certificate Subject";
    /// Key Value Location (`0x4200B8`), KMIP 1.2.
    KEY_VALUE_LOCATION = 0x4200B8, "Key Value Location";
    /// Key Value Location Value (`0x4200B9`), KMIP 1.2.
    KEY_VALUE_LOCATION_VALUE = 0x4200B9, "Key Value Location Value";
    /// Key Value Location Type (`0x4200BA`), KMIP 1.2.
    KEY_VALUE_LOCATION_TYPE = 0x4200BA, "Key Value Location Type";
    /// Key Value Present (`0x4200BB`), KMIP 1.2.
    KEY_VALUE_PRESENT = 0x4200BB, "Key Value Present";
    /// Original Creation Date (`0x4200BC`), KMIP 1.2.
    ORIGINAL_CREATION_DATE = 0x4200BC, "Original Creation Date";
    /// PGP Key (`0x4200BD`), KMIP 1.2.
    PGP_KEY = 0x4200BD, "PGP Key";
    /// PGP Key Version (`0x4200BE`), KMIP 1.2.
    PGP_KEY_VERSION = 0x4200BE, "PGP Key Version";
    /// Alternative Name (`0x4200BF`), KMIP 1.2.
    ALTERNATIVE_NAME = 0x4200BF, "Alternative Name";
    /// Alternative Name Value (`0x4200C0`), KMIP 1.2.
    ALTERNATIVE_NAME_VALUE = 0x4200C0, "Alternative Name Value";
    /// Alternative Name Type (`0x4200C1`), KMIP 1.2.
    ALTERNATIVE_NAME_TYPE = 0x4200C1, "Alternative Name Type";
    /// Data (`0x4200C2`), KMIP 1.2.
    DATA = 0x4200C2, "Data";
    /// Signature Data (`0x4200C3`), KMIP 1.2.
    SIGNATURE_DATA = 0x4200C3, "Signature Data";
    /// Data Length (`0x4200C4`), KMIP 1.2.
    DATA_LENGTH = 0x4200C4, "Data Length";
    /// Random IV (`0x4200C5`), KMIP 1.2.
    RANDOM_IV = 0x4200C5, "Random IV";
    /// MAC Data (`0x4200C6`), KMIP 1.2.
    MAC_DATA = 0x4200C6, "MAC Data";
    /// Attestation Type (`0x4200C7`), KMIP 1.2.
    ATTESTATION_TYPE = 0x4200C7, "Attestation Type";
    /// Nonce (`0x4200C8`), KMIP 1.2.
    NONCE = 0x4200C8, "Nonce";
    /// Nonce ID (`0x4200C9`), KMIP 1.2.
    NONCE_ID = 0x4200C9, "Nonce ID";
    /// Nonce Value (`0x4200CA`), KMIP 1.2.
    NONCE_VALUE = 0x4200CA, "Nonce Value";
    /// Attestation Measurement (`0x4200CB`), KMIP 1.2.
    ATTESTATION_MEASUREMENT = 0x4200CB, "Attestation Measurement";
    /// Attestation Assertion (`0x4200CC`), KMIP 1.2.
    ATTESTATION_ASSERTION = 0x4200CC, "Attestation Assertion";
    /// IV Length (`0x4200CD`), KMIP 1.2.
    IV_LENGTH = 0x4200CD, "IV Length";
    /// Tag Length (`0x4200CE`), KMIP 1.2.
    TAG_LENGTH = 0x4200CE, "Tag Length";
    /// Fixed Field Length (`0x4200CF`), KMIP 1.2.
    FIXED_FIELD_LENGTH = 0x4200CF, "Fixed Field Length";
    /// Counter Length (`0x4200D0`), KMIP 1.2.
    COUNTER_LENGTH = 0x4200D0, "Counter Length";
    /// Initial Counter Value (`0x4200D1`), KMIP 1.2.
    INITIAL_COUNTER_VALUE = 0x4200D1, "Initial Counter Value";
    /// Invocation Field Length (`0x4200D2`), KMIP 1.2.
    INVOCATION_FIELD_LENGTH = 0x4200D2, "Invocation Field Length";
    /// Attestation Capable Indicator (`0x4200D3`), KMIP 1.2.
    ATTESTATION_CAPABLE_INDICATOR = 0x4200D3, "Attestation Capable Indicator";
    /// Offset Items (`0x4200D4`), KMIP 1.3.
    OFFSET_ITEMS = 0x4200D4, "Offset Items";
    /// Located Items (`0x4200D5`), KMIP 1.3.
    LOCATED_ITEMS = 0x4200D5, "Located Items";
    /// Correlation Value (`0x4200D6`), KMIP 1.3.
    CORRELATION_VALUE = 0x4200D6, "Correlation Value";
    /// Init Indicator (`0x4200D7`), KMIP 1.3.
    INIT_INDICATOR = 0x4200D7, "Init Indicator";
    /// Final Indicator (`0x4200D8`), KMIP 1.3.
    FINAL_INDICATOR = 0x4200D8, "Final Indicator";
    /// RNG Parameters (`0x4200D9`), KMIP 1.3.
    RNG_PARAMETERS = 0x4200D9, "RNG Parameters";
    /// RNG Algorithm (`0x4200DA`), KMIP 1.3.
    RNG_ALGORITHM = 0x4200DA, "RNG Algorithm";
    /// DRBG Algorithm (`0x4200DB`), KMIP 1.3.
    DRBG_ALGORITHM = 0x4200DB, "DRBG Algorithm";
    /// FIPS186 Variation (`0x4200DC`), KMIP 1.3.
    FIPS186_VARIATION = 0x4200DC, "FIPS186 Variation";
    /// Prediction Resistance (`0x4200DD`), KMIP 1.3.
    PREDICTION_RESISTANCE = 0x4200DD, "Prediction Resistance";
    /// Random Number Generator (`0x4200DE`), KMIP 1.3.
    RANDOM_NUMBER_GENERATOR = 0x4200DE, "Random Number Generator";
    /// Validation Information (`0x4200DF`), KMIP 1.3.
    VALIDATION_INFORMATION = 0x4200DF, "Validation Information";
    /// Validation Authority Type (`0x4200E0`), KMIP 1.3.
    VALIDATION_AUTHORITY_TYPE = 0x4200E0, "Validation Authority Type";
    /// Validation Authority Country (`0x4200E1`), KMIP 1.3.
    VALIDATION_AUTHORITY_COUNTRY = 0x4200E1, "Validation Authority Country";
    /// Validation Authority URI (`0x4200E2`), KMIP 1.3.
    VALIDATION_AUTHORITY_URI = 0x4200E2, "Validation Authority URI";
    /// Validation Version Major (`0x4200E3`), KMIP 1.3.
    VALIDATION_VERSION_MAJOR = 0x4200E3, "Validation Version Major";
    /// Validation Version Minor (`0x4200E4`), KMIP 1.3.
    VALIDATION_VERSION_MINOR = 0x4200E4, "Validation Version Minor";
    /// Validation Type (`0x4200E5`), KMIP 1.3.
    VALIDATION_TYPE = 0x4200E5, "Validation Type";
    /// Validation Level (`0x4200E6`), KMIP 1.3.
    VALIDATION_LEVEL = 0x4200E6, "Validation Level";
    /// Validation Certificate Identifier (`0x4200E7`), KMIP 1.3.
    VALIDATION_CERTIFICATE_IDENTIFIER = 0x4200E7, "Validation Certificate Identifier";
    /// Validation Certificate URI (`0x4200E8`), KMIP 1.3.
    VALIDATION_CERTIFICATE_URI = 0x4200E8, "Validation Certificate URI";
    /// Validation Vendor URI (`0x4200E9`), KMIP 1.3.
    VALIDATION_VENDOR_URI = 0x4200E9, "Validation Vendor URI";
    /// Validation Profile (`0x4200EA`), KMIP 1.3.
    VALIDATION_PROFILE = 0x4200EA, "Validation Profile";
    /// Profile Information (`0x4200EB`), KMIP 1.3.
    PROFILE_INFORMATION = 0x4200EB, "Profile Information";
    /// Profile Name (`0x4200EC`), KMIP 1.3.
    PROFILE_NAME = 0x4200EC, "Profile Name";
    /// Server URI (`0x4200ED`), KMIP 1.3.
    SERVER_URI = 0x4200ED, "Server URI";
    /// Server Port (`0x4200EE`), KMIP 1.3.
    SERVER_PORT = 0x4200EE, "Server Port";
    /// Streaming Capability (`0x4200EF`), KMIP 1.3.
    STREAMING_CAPABILITY = 0x4200EF, "Streaming Capability";
    /// Asynchronous Capability (`0x4200F0`), KMIP 1.3.
    ASYNCHRONOUS_CAPABILITY = 0x4200F0, "Asynchronous Capability";
    /// Attestation Capability (`0x4200F1`), KMIP 1.3.
    ATTESTATION_CAPABILITY = 0x4200F1, "Attestation Capability";
    /// Unwrap Mode (`0x4200F2`), KMIP 1.3.
    UNWRAP_MODE = 0x4200F2, "Unwrap Mode";
    /// Destroy Action (`0x4200F3`), KMIP 1.3.
    DESTROY_ACTION = 0x4200F3, "Destroy Action";
    /// Shredding Algorithm (`0x4200F4`), KMIP 1.3.
    SHREDDING_ALGORITHM = 0x4200F4, "Shredding Algorithm";
    /// RNG Mode (`0x4200F5`), KMIP 1.3.
    RNG_MODE = 0x4200F5, "RNG Mode";
    /// Client Registration Method (`0x4200F6`), KMIP 1.3.
    CLIENT_REGISTRATION_METHOD = 0x4200F6, "Client Registration Method";
    /// Capability Information (`0x4200F7`), KMIP 1.3.
    CAPABILITY_INFORMATION = 0x4200F7, "Capability Information";
    /// Key Wrap Type (`0x4200F8`), KMIP 1.4.
    KEY_WRAP_TYPE = 0x4200F8, "Key Wrap Type";
    /// Batch Undo Capability (`0x4200F9`), KMIP 1.4.
    BATCH_UNDO_CAPABILITY = 0x4200F9, "Batch Undo Capability";
    /// Batch Continue Capability (`0x4200FA`), KMIP 1.4.
    BATCH_CONTINUE_CAPABILITY = 0x4200FA, "Batch Continue Capability";
    /// PKCS#12 Friendly Name (`0x4200FB`), KMIP 1.4.
    PKCS12_FRIENDLY_NAME = 0x4200FB, "PKCS#12 Friendly Name";
    /// Description (`0x4200FC`), KMIP 1.4.
    DESCRIPTION = 0x4200FC, "Description";
    /// Comment (`0x4200FD`), KMIP 1.4.
    COMMENT = 0x4200FD, "Comment";
    /// Authenticated Encryption Additional Data (`0x4200FE`), KMIP 1.4.
    AUTHENTICATED_ENCRYPTION_ADDITIONAL_DATA = 0x4200FE, "Authenticated Encryption Additional Data";
    /// Authenticated Encryption Tag (`0x4200FF`), KMIP 1.4.
    AUTHENTICATED_ENCRYPTION_TAG = 0x4200FF, "Authenticated Encryption Tag";
    /// Salt Length (`0x420100`), KMIP 1.4.
    SALT_LENGTH = 0x420100, "Salt Length";
    /// Mask Generator (`0x420101`), KMIP 1.4.
    MASK_GENERATOR = 0x420101, "Mask Generator";
    /// Mask Generator Hashing Algorithm (`0x420102`), KMIP 1.4.
    MASK_GENERATOR_HASHING_ALGORITHM = 0x420102, "Mask Generator Hashing Algorithm";
    /// P Source (`0x420103`), KMIP 1.4.
    P_SOURCE = 0x420103, "P Source";
    /// Trailer Field (`0x420104`), KMIP 1.4.
    TRAILER_FIELD = 0x420104, "Trailer Field";
    /// Client Correlation Value (`0x420105`), KMIP 1.4.
    CLIENT_CORRELATION_VALUE = 0x420105, "Client Correlation Value";
    /// Server Correlation Value (`0x420106`), KMIP 1.4.
    SERVER_CORRELATION_VALUE = 0x420106, "Server Correlation Value";
    /// Digested Data (`0x420107`), KMIP 1.4.
    DIGESTED_DATA = 0x420107, "Digested Data";
    /// Certificate Subject CN (`0x420108`), KMIP 1.4.
    CERTIFICATE_SUBJECT_CN = 0x420108, "Certificate Subject CN";
    /// Certificate Subject O (`0x420109`), KMIP 1.4.
    CERTIFICATE_SUBJECT_O = 0x420109, "Certificate Subject O";
    /// Certificate Subject OU (`0x42010A`), KMIP 1.4.
    CERTIFICATE_SUBJECT_OU = 0x42010A, "Certificate Subject OU";
    /// Certificate Subject Email (`0x42010B`), KMIP 1.4.
    CERTIFICATE_SUBJECT_EMAIL = 0x42010B, "Certificate Subject Email";
    /// Certificate Subject C (`0x42010C`), KMIP 1.4.
    CERTIFICATE_SUBJECT_C = 0x42010C, "Certificate Subject C";
    /// Certificate Subject ST (`0x42010D`), KMIP 1.4.
    CERTIFICATE_SUBJECT_ST = 0x42010D, "Certificate Subject ST";
    /// Certificate Subject L (`0x42010E`), KMIP 1.4.
    CERTIFICATE_SUBJECT_L = 0x42010E, "Certificate Subject L";
    /// Certificate Subject UID (`0x42010F`), KMIP 1.4.
    CERTIFICATE_SUBJECT_UID = 0x42010F, "Certificate Subject UID";
    /// Certificate Subject Serial Number (`0x420110`), KMIP 1.4.
    CERTIFICATE_SUBJECT_SERIAL_NUMBER = 0x420110, "Certificate Subject Serial Number";
    /// Certificate Subject Title (`0x420111`), KMIP 1.4.
    CERTIFICATE_SUBJECT_TITLE = 0x420111, "Certificate Subject Title";
    /// Certificate Subject DC (`0x420112`), KMIP 1.4.
    CERTIFICATE_SUBJECT_DC = 0x420112, "Certificate Subject DC";
    /// Certificate Subject DN Qualifier (`0x420113`), KMIP 1.4.
    CERTIFICATE_SUBJECT_DN_QUALIFIER = 0x420113, "Certificate Subject DN Qualifier";
    /// Certificate Issuer CN (`0x420114`), KMIP 1.4.
    CERTIFICATE_ISSUER_CN = 0x420114, "Certificate Issuer CN";
    /// Certificate Issuer O (`0x420115`), KMIP 1.4.
    CERTIFICATE_ISSUER_O = 0x420115, "Certificate Issuer O";
    /// Certificate Issuer OU (`0x420116`), KMIP 1.4.
    CERTIFICATE_ISSUER_OU = 0x420116, "Certificate Issuer OU";
    /// Certificate Issuer Email (`0x420117`), KMIP 1.4.
    CERTIFICATE_ISSUER_EMAIL = 0x420117, "Certificate Issuer Email";
    /// Certificate Issuer C (`0x420118`), KMIP 1.4.
    CERTIFICATE_ISSUER_C = 0x420118, "Certificate Issuer C";
    /// Certificate Issuer ST (`0x420119`), KMIP 1.4.
    CERTIFICATE_ISSUER_ST = 0x420119, "Certificate Issuer ST";
    /// Certificate Issuer L (`0x42011A`), KMIP 1.4.
    CERTIFICATE_ISSUER_L = 0x42011A, "Certificate Issuer L";
    /// Certificate Issuer UID (`0x42011B`), KMIP 1.4.
    CERTIFICATE_ISSUER_UID = 0x42011B, "Certificate Issuer UID";
    /// Certificate Issuer Serial Number (`0x42011C`), KMIP 1.4.
    CERTIFICATE_ISSUER_SERIAL_NUMBER = 0x42011C, "Certificate Issuer Serial Number";
    /// Certificate Issuer Title (`0x42011D`), KMIP 1.4.
    CERTIFICATE_ISSUER_TITLE = 0x42011D, "Certificate Issuer Title";
    /// Certificate Issuer DC (`0x42011E`), KMIP 1.4.
    CERTIFICATE_ISSUER_DC = 0x42011E, "Certificate Issuer DC";
    /// Certificate Issuer DN Qualifier (`0x42011F`), KMIP 1.4.
    CERTIFICATE_ISSUER_DN_QUALIFIER = 0x42011F, "Certificate Issuer DN Qualifier";
    /// Sensitive (`0x420120`), KMIP 1.4.
    SENSITIVE = 0x420120, "Sensitive";
    /// Always Sensitive (`0x420121`), KMIP 1.4.
    ALWAYS_SENSITIVE = 0x420121, "Always Sensitive";
    /// Extractable (`0x420122`), KMIP 1.4.
    EXTRACTABLE = 0x420122, "Extractable";
    /// Never Extractable (`0x420123`), KMIP 1.4.
    NEVER_EXTRACTABLE = 0x420123, "Never Extractable";
    /// Replace Existing (`0x420124`), KMIP 1.4.
    REPLACE_EXISTING = 0x420124, "Replace Existing";
    /// Attributes (`0x420125`), KMIP 2.0.
    ATTRIBUTES = 0x420125, "Attributes";
    /// Common Attributes (`0x420126`), KMIP 2.0.
    COMMON_ATTRIBUTES = 0x420126, "Common Attributes";
    /// Private Key Attributes (`0x420127`), KMIP 2.0.
    PRIVATE_KEY_ATTRIBUTES = 0x420127, "Private Key Attributes";
    /// Public Key Attributes (`0x420128`), KMIP 2.0.
    PUBLIC_KEY_ATTRIBUTES = 0x420128, "Public Key Attributes";
    /// Extension Enumeration (`0x420129`), KMIP 2.0.
    EXTENSION_ENUMERATION = 0x420129, "Extension Enumeration";
    /// Extension Attribute (`0x42012A`), KMIP 2.0.
    EXTENSION_ATTRIBUTE = 0x42012A, "Extension Attribute";
    /// Extension Parent Structure Tag (`0x42012B`), KMIP 2.0.
    EXTENSION_PARENT_STRUCTURE_TAG = 0x42012B, "Extension Parent Structure Tag";
    /// Extension Description (`0x42012C`), KMIP 2.0.
    EXTENSION_DESCRIPTION = 0x42012C, "Extension Description";
    /// Server Name (`0x42012D`), KMIP 2.0.
    SERVER_NAME = 0x42012D, "Server Name";
    /// Server Serial Number (`0x42012E`), KMIP 2.0.
    SERVER_SERIAL_NUMBER = 0x42012E, "Server Serial Number";
    /// Server Version (`0x42012F`), KMIP 2.0.
    SERVER_VERSION = 0x42012F, "Server Version";
    /// Server Load (`0x420130`), KMIP 2.0.
    SERVER_LOAD = 0x420130, "Server Load";
    /// Product Name (`0x420131`), KMIP 2.0.
    PRODUCT_NAME = 0x420131, "Product Name";
    /// Build Level (`0x420132`), KMIP 2.0.
    BUILD_LEVEL = 0x420132, "Build Level";
    /// Build Date (`0x420133`), KMIP 2.0.
    BUILD_DATE = 0x420133, "Build Date";
    /// Cluster Info (`0x420134`), KMIP 2.0.
    CLUSTER_INFO = 0x420134, "Cluster Info";
    /// Alternate Failover Endpoints (`0x420135`), KMIP 2.0.
    ALTERNATE_FAILOVER_ENDPOINTS = 0x420135, "Alternate Failover Endpoints";
    /// Short Unique Identifier (`0x420136`), KMIP 2.0.
    SHORT_UNIQUE_IDENTIFIER = 0x420136, "Short Unique Identifier";
    /// Tag (`0x420138`), KMIP 2.0.
    TAG = 0x420138, "Tag";
    /// Certificate Request Unique Identifier (`0x420139`), KMIP 2.0.
    CERTIFICATE_REQUEST_UNIQUE_IDENTIFIER = 0x420139, "Certificate Request Unique Identifier";
    /// NIST Key Type (`0x42013A`), KMIP 2.0.
    NIST_KEY_TYPE = 0x42013A, "NIST Key Type";
    /// Attribute Reference (`0x42013B`), KMIP 2.0.
    ATTRIBUTE_REFERENCE = 0x42013B, "Attribute Reference";
    /// Current Attribute (`0x42013C`), KMIP 2.0.
    CURRENT_ATTRIBUTE = 0x42013C, "Current Attribute";
    /// New Attribute (`0x42013D`), KMIP 2.0.
    NEW_ATTRIBUTE = 0x42013D, "New Attribute";
    /// Certificate Request Value (`0x420140`), KMIP 2.0.
    CERTIFICATE_REQUEST_VALUE = 0x420140, "Certificate Request Value";
    /// Log Message (`0x420141`), KMIP 2.0.
    LOG_MESSAGE = 0x420141, "Log Message";
    /// Profile Version (`0x420142`), KMIP 2.0.
    PROFILE_VERSION = 0x420142, "Profile Version";
    /// Profile Version Major (`0x420143`), KMIP 2.0.
    PROFILE_VERSION_MAJOR = 0x420143, "Profile Version Major";
    /// Profile Version Minor (`0x420144`), KMIP 2.0.
    PROFILE_VERSION_MINOR = 0x420144, "Profile Version Minor";
    /// Protection Level (`0x420145`), KMIP 2.0.
    PROTECTION_LEVEL = 0x420145, "Protection Level";
    /// Protection Period (`0x420146`), KMIP 2.0.
    PROTECTION_PERIOD = 0x420146, "Protection Period";
    /// Quantum Safe (`0x420147`), KMIP 2.0.
    QUANTUM_SAFE = 0x420147, "Quantum Safe";
    /// Quantum Safe Capability (`0x420148`), KMIP 2.0.
    QUANTUM_SAFE_CAPABILITY = 0x420148, "Quantum Safe Capability";
    /// Ticket (`0x420149`), KMIP 2.0.
    TICKET = 0x420149, "Ticket";
    /// Ticket Type (`0x42014A`), KMIP 2.0.
    TICKET_TYPE = 0x42014A, "Ticket Type";
    /// Ticket Value (`0x42014B`), KMIP 2.0.
    TICKET_VALUE = 0x42014B, "Ticket Value";
    /// Request Count (`0x42014C`), KMIP 2.0.
    REQUEST_COUNT = 0x42014C, "Request Count";
    /// Rights (`0x42014D`), KMIP 2.0.
    RIGHTS = 0x42014D, "Rights";
    /// Objects (`0x42014E`), KMIP 2.0.
    OBJECTS = 0x42014E, "Objects";
    /// Operations (`0x42014F`), KMIP 2.0.
    OPERATIONS = 0x42014F, "Operations";
    /// Right (`0x420150`), KMIP 2.0.
    RIGHT = 0x420150, "Right";
    /// Endpoint Role (`0x420151`), KMIP 2.0.
    ENDPOINT_ROLE = 0x420151, "Endpoint Role";
    /// Defaults Information (`0x420152`), KMIP 2.0.
    DEFAULTS_INFORMATION = 0x420152, "Defaults Information";
    /// Object Defaults (`0x420153`), KMIP 2.0.
    OBJECT_DEFAULTS = 0x420153, "Object Defaults";
    /// Ephemeral (`0x420154`), KMIP 2.0.
    EPHEMERAL = 0x420154, "Ephemeral";
    /// Server Hashed Password (`0x420155`), KMIP 2.0.
    SERVER_HASHED_PASSWORD = 0x420155, "Server Hashed Password";
    /// One Time Password (`0x420156`), KMIP 2.0.
    ONE_TIME_PASSWORD = 0x420156, "One Time Password";
    /// Hashed Password (`0x420157`), KMIP 2.0.
    HASHED_PASSWORD = 0x420157, "Hashed Password";
    /// Adjustment Type (`0x420158`), KMIP 2.0.
    ADJUSTMENT_TYPE = 0x420158, "Adjustment Type";
    /// PKCS#11 Interface (`0x420159`), KMIP 2.0.
    PKCS11_INTERFACE = 0x420159, "PKCS#11 Interface";
    /// PKCS#11 Function (`0x42015A`), KMIP 2.0.
    PKCS11_FUNCTION = 0x42015A, "PKCS#11 Function";
    /// PKCS#11 Input Parameters (`0x42015B`), KMIP 2.0.
    PKCS11_INPUT_PARAMETERS = 0x42015B, "PKCS#11 Input Parameters";
    /// PKCS#11 Output Parameters (`0x42015C`), KMIP 2.0.
    PKCS11_OUTPUT_PARAMETERS = 0x42015C, "PKCS#11 Output Parameters";
    /// PKCS#11 Return Code (`0x42015D`), KMIP 2.0.
    PKCS11_RETURN_CODE = 0x42015D, "PKCS#11 Return Code";
    /// Protection Storage Mask (`0x42015E`), KMIP 2.0.
    PROTECTION_STORAGE_MASK = 0x42015E, "Protection Storage Mask";
    /// Protection Storage Masks (`0x42015F`), KMIP 2.0.
    PROTECTION_STORAGE_MASKS = 0x42015F, "Protection Storage Masks";
    /// Interop Function (`0x420160`), KMIP 2.0.
    INTEROP_FUNCTION = 0x420160, "Interop Function";
    /// Interop Identifier (`0x420161`), KMIP 2.0.
    INTEROP_IDENTIFIER = 0x420161, "Interop Identifier";
    /// Adjustment Value (`0x420162`), KMIP 2.0.
    ADJUSTMENT_VALUE = 0x420162, "Adjustment Value";
    /// Common Protection Storage Masks (`0x420163`), KMIP 2.0.
    COMMON_PROTECTION_STORAGE_MASKS = 0x420163, "Common Protection Storage Masks";
    /// Private Protection Storage Masks (`0x420164`), KMIP 2.0.
    PRIVATE_PROTECTION_STORAGE_MASKS = 0x420164, "Private Protection Storage Masks";
    /// Public Protection Storage Masks (`0x420165`), KMIP 2.0.
    PUBLIC_PROTECTION_STORAGE_MASKS = 0x420165, "Public Protection Storage Masks";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_is_sorted_and_has_no_duplicates() {
        for pair in ALL.windows(2) {
            assert!(pair[0].0 < pair[1].0, "{:?} before {:?}", pair[0], pair[1]);
        }
        let mut names: Vec<&str> = ALL.iter().map(|&(_, n)| n).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ALL.len());
    }

    #[test]
    fn names_and_numbers_agree_with_the_specification() {
        // Spot checks against the tag table of the specification.
        for (tag, number, text) in [
            (REQUEST_MESSAGE, 0x420078, "Request Message"),
            (RESPONSE_MESSAGE, 0x42007B, "Response Message"),
            (BATCH_ITEM, 0x42000F, "Batch Item"),
            (UNIQUE_IDENTIFIER, 0x420094, "Unique Identifier"),
            (TEMPLATE_ATTRIBUTE, 0x420091, "Template-Attribute"),
            (IV_COUNTER_NONCE, 0x42003D, "IV/Counter/Nonce"),
            (
                X509_CERTIFICATE_IDENTIFIER,
                0x4200B5,
                "X.509 Certificate Identifier",
            ),
            (
                AUTHENTICATED_ENCRYPTION_ADDITIONAL_DATA,
                0x4200FE,
                "Authenticated Encryption Additional Data",
            ),
            (
                AUTHENTICATED_ENCRYPTION_TAG,
                0x4200FF,
                "Authenticated Encryption Tag",
            ),
            (ATTRIBUTES, 0x420125, "Attributes"),
            (
                PUBLIC_PROTECTION_STORAGE_MASKS,
                0x420165,
                "Public Protection Storage Masks",
            ),
        ] {
            assert_eq!(tag.value(), number);
            assert_eq!(name(tag), Some(text));
            assert_eq!(by_name(text), Some(tag));
        }
        assert_eq!(name(Tag::extension(1)), None);
        assert_eq!(name(Tag::kmip(0x0137)), None);
        assert_eq!(by_name("No Such Tag"), None);
    }
}
