//! KMIP enumerations, with the values of the specification.
//!
//! Values are the same in every KMIP version that defines them: later
//! versions add values, and KMIP 2.0 turned a few deprecated ones into
//! "(Reserved)". Each variant's documentation says in which version it
//! appeared (1.0 when it says nothing) and whether 2.0 reserved it; a server
//! that negotiated 2.x should refuse the reserved ones.
//!
//! [`from_u32`](KmipEnum::from_u32) returns `None` for values the
//! specification does not define, including vendor extensions
//! (`0x8xxxxxxx`); [`Item::as_enum_of`](crate::Item::as_enum_of) turns that
//! into [`TtlvError::UnknownEnumeration`](crate::TtlvError::UnknownEnumeration).

use core::fmt;

/// What every KMIP enumeration in this module provides.
pub trait KmipEnum: Copy + Sized + 'static {
    /// The specification's name of the enumeration, e.g. `"Operation"`.
    const KIND: &'static str;
    /// Every value, in numeric order.
    const ALL: &'static [Self];
    /// The variant for `value`, or `None` if the specification defines none.
    fn from_u32(value: u32) -> Option<Self>;
    /// The value sent on the wire.
    fn to_u32(self) -> u32;
    /// The specification's name of the value, e.g. `"Create Key Pair"`.
    fn name(self) -> &'static str;
}

macro_rules! kmip_enum {
    (
        $(#[$meta:meta])*
        $name:ident, $kind:literal {
            $( $(#[$vmeta:meta])* $variant:ident = $value:literal, $text:literal; )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
        }

        impl $name {
            /// The variant for `value`, or `None` if the specification defines none.
            pub const fn from_u32(value: u32) -> Option<$name> {
                match value {
                    $( $value => Some($name::$variant), )+
                    _ => None,
                }
            }

            /// The value sent on the wire.
            pub const fn to_u32(self) -> u32 {
                match self {
                    $( $name::$variant => $value, )+
                }
            }

            /// The specification's name of the value.
            pub const fn name(self) -> &'static str {
                match self {
                    $( $name::$variant => $text, )+
                }
            }
        }

        impl KmipEnum for $name {
            const KIND: &'static str = $kind;
            const ALL: &'static [$name] = &[ $( $name::$variant, )+ ];

            fn from_u32(value: u32) -> Option<$name> {
                $name::from_u32(value)
            }

            fn to_u32(self) -> u32 {
                $name::to_u32(self)
            }

            fn name(self) -> &'static str {
                $name::name(self)
            }
        }

        impl From<$name> for u32 {
            fn from(value: $name) -> u32 {
                value.to_u32()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.name())
            }
        }
    };
}

kmip_enum! {
    /// Operation: what a batch item asks the server to do.
    Operation, "Operation" {
        /// Create a symmetric key or other object from attributes.
        Create = 0x0000_0001, "Create";
        /// Create a public/private key pair.
        CreateKeyPair = 0x0000_0002, "Create Key Pair";
        /// Register an object the client provides.
        Register = 0x0000_0003, "Register";
        /// Replace a symmetric key with a new one.
        ReKey = 0x0000_0004, "Re-key";
        /// Derive a key from others.
        DeriveKey = 0x0000_0005, "Derive Key";
        /// Certify a public key.
        Certify = 0x0000_0006, "Certify";
        /// Renew a certificate.
        ReCertify = 0x0000_0007, "Re-certify";
        /// Search for objects.
        Locate = 0x0000_0008, "Locate";
        /// Check that an object may be used.
        Check = 0x0000_0009, "Check";
        /// Return an object.
        Get = 0x0000_000A, "Get";
        /// Return attributes of an object.
        GetAttributes = 0x0000_000B, "Get Attributes";
        /// List the attribute names of an object.
        GetAttributeList = 0x0000_000C, "Get Attribute List";
        /// Add an attribute.
        AddAttribute = 0x0000_000D, "Add Attribute";
        /// Change an attribute.
        ModifyAttribute = 0x0000_000E, "Modify Attribute";
        /// Remove an attribute.
        DeleteAttribute = 0x0000_000F, "Delete Attribute";
        /// Obtain a lease on an object.
        ObtainLease = 0x0000_0010, "Obtain Lease";
        /// Obtain a usage allocation.
        GetUsageAllocation = 0x0000_0011, "Get Usage Allocation";
        /// Move an object to Active.
        Activate = 0x0000_0012, "Activate";
        /// Revoke an object.
        Revoke = 0x0000_0013, "Revoke";
        /// Destroy an object's key material.
        Destroy = 0x0000_0014, "Destroy";
        /// Move an object to archival storage.
        Archive = 0x0000_0015, "Archive";
        /// Bring an object back from archival storage.
        Recover = 0x0000_0016, "Recover";
        /// Validate a certificate chain.
        Validate = 0x0000_0017, "Validate";
        /// Ask what the server supports.
        Query = 0x0000_0018, "Query";
        /// Cancel an asynchronous operation.
        Cancel = 0x0000_0019, "Cancel";
        /// Poll an asynchronous operation.
        Poll = 0x0000_001A, "Poll";
        /// Server-to-client notification.
        Notify = 0x0000_001B, "Notify";
        /// Server-to-client push of an object.
        Put = 0x0000_001C, "Put";
        /// Replace a key pair. KMIP 1.1+.
        ReKeyKeyPair = 0x0000_001D, "Re-key Key Pair";
        /// Negotiate the protocol version. KMIP 1.1+.
        DiscoverVersions = 0x0000_001E, "Discover Versions";
        /// Encrypt data. KMIP 1.2+.
        Encrypt = 0x0000_001F, "Encrypt";
        /// Decrypt data. KMIP 1.2+.
        Decrypt = 0x0000_0020, "Decrypt";
        /// Sign data. KMIP 1.2+.
        Sign = 0x0000_0021, "Sign";
        /// Verify a signature. KMIP 1.2+.
        SignatureVerify = 0x0000_0022, "Signature Verify";
        /// Compute a MAC. KMIP 1.2+.
        Mac = 0x0000_0023, "MAC";
        /// Verify a MAC. KMIP 1.2+.
        MacVerify = 0x0000_0024, "MAC Verify";
        /// Return random bytes. KMIP 1.2+.
        RngRetrieve = 0x0000_0025, "RNG Retrieve";
        /// Seed the server's RNG. KMIP 1.2+.
        RngSeed = 0x0000_0026, "RNG Seed";
        /// Hash data. KMIP 1.2+.
        Hash = 0x0000_0027, "Hash";
        /// Split a key. KMIP 1.2+.
        CreateSplitKey = 0x0000_0028, "Create Split Key";
        /// Join split key parts. KMIP 1.2+.
        JoinSplitKey = 0x0000_0029, "Join Split Key";
        /// Import an object with all its attributes. KMIP 1.4+.
        Import = 0x0000_002A, "Import";
        /// Export an object with all its attributes. KMIP 1.4+.
        Export = 0x0000_002B, "Export";
        /// Write to the server log. KMIP 2.0+.
        Log = 0x0000_002C, "Log";
        /// Obtain a login ticket. KMIP 2.0+.
        Login = 0x0000_002D, "Login";
        /// Invalidate a login ticket. KMIP 2.0+.
        Logout = 0x0000_002E, "Logout";
        /// Obtain a ticket with delegated rights. KMIP 2.0+.
        DelegatedLogin = 0x0000_002F, "Delegated Login";
        /// Increment, decrement or negate an attribute. KMIP 2.0+.
        AdjustAttribute = 0x0000_0030, "Adjust Attribute";
        /// Set an attribute. KMIP 2.0+.
        SetAttribute = 0x0000_0031, "Set Attribute";
        /// Set whether the endpoint acts as client or server. KMIP 2.0+.
        SetEndpointRole = 0x0000_0032, "Set Endpoint Role";
        /// Carry a PKCS#11 call. KMIP 2.0+.
        Pkcs11 = 0x0000_0033, "PKCS#11";
        /// Interoperability test control. KMIP 2.0+.
        Interop = 0x0000_0034, "Interop";
        /// Re-provision a client. KMIP 2.0+.
        ReProvision = 0x0000_0035, "Re-Provision";
        /// Set server defaults. KMIP 2.1+.
        SetDefaults = 0x0000_0036, "Set Defaults";
        /// Set server constraints. KMIP 2.1+.
        SetConstraints = 0x0000_0037, "Set Constraints";
        /// Get server constraints. KMIP 2.1+.
        GetConstraints = 0x0000_0038, "Get Constraints";
        /// List pending asynchronous requests. KMIP 2.1+.
        QueryAsynchronousRequests = 0x0000_0039, "Query Asynchronous Requests";
        /// Process a pending request. KMIP 2.1+.
        Process = 0x0000_003A, "Process";
        /// Check that the server answers. KMIP 2.1+.
        Ping = 0x0000_003B, "Ping";
    }
}

kmip_enum! {
    /// Object Type: the kind of managed object.
    ObjectType, "Object Type" {
        /// An X.509 or PGP certificate.
        Certificate = 0x0000_0001, "Certificate";
        /// A symmetric key.
        SymmetricKey = 0x0000_0002, "Symmetric Key";
        /// The public half of a key pair.
        PublicKey = 0x0000_0003, "Public Key";
        /// The private half of a key pair.
        PrivateKey = 0x0000_0004, "Private Key";
        /// One part of a split key.
        SplitKey = 0x0000_0005, "Split Key";
        /// A set of attributes. Deprecated in 1.3, reserved in 2.0.
        Template = 0x0000_0006, "Template";
        /// A password, seed or other secret that is not a key.
        SecretData = 0x0000_0007, "Secret Data";
        /// Bytes the server does not interpret.
        OpaqueObject = 0x0000_0008, "Opaque Object";
        /// An OpenPGP key. KMIP 1.2+.
        PgpKey = 0x0000_0009, "PGP Key";
        /// A certificate signing request. KMIP 2.0+.
        CertificateRequest = 0x0000_000A, "Certificate Request";
    }
}

kmip_enum! {
    /// Result Status of a batch item.
    ResultStatus, "Result Status" {
        /// The operation succeeded.
        Success = 0x0000_0000, "Success";
        /// The operation failed; a Result Reason says why.
        OperationFailed = 0x0000_0001, "Operation Failed";
        /// The operation continues asynchronously.
        OperationPending = 0x0000_0002, "Operation Pending";
        /// The operation was undone (batch with Undo continuation option).
        OperationUndone = 0x0000_0003, "Operation Undone";
    }
}

kmip_enum! {
    /// Result Reason of a failed batch item.
    ResultReason, "Result Reason" {
        /// No object matches.
        ItemNotFound = 0x0000_0001, "Item Not Found";
        /// The response exceeds the Maximum Response Size.
        ResponseTooLarge = 0x0000_0002, "Response Too Large";
        /// The client could not be authenticated.
        AuthenticationNotSuccessful = 0x0000_0003, "Authentication Not Successful";
        /// The message is malformed.
        InvalidMessage = 0x0000_0004, "Invalid Message";
        /// The operation is not supported.
        OperationNotSupported = 0x0000_0005, "Operation Not Supported";
        /// A required field is missing.
        MissingData = 0x0000_0006, "Missing Data";
        /// A field has an invalid value.
        InvalidField = 0x0000_0007, "Invalid Field";
        /// A requested feature is not supported.
        FeatureNotSupported = 0x0000_0008, "Feature Not Supported";
        /// The client canceled the operation.
        OperationCanceledByRequester = 0x0000_0009, "Operation Canceled By Requester";
        /// A cryptographic operation failed.
        CryptographicFailure = 0x0000_000A, "Cryptographic Failure";
        /// The operation is not allowed on this object now.
        IllegalOperation = 0x0000_000B, "Illegal Operation";
        /// The client may not perform the operation.
        PermissionDenied = 0x0000_000C, "Permission Denied";
        /// The object is archived.
        ObjectArchived = 0x0000_000D, "Object Archived";
        /// An attribute index is out of range.
        IndexOutOfBounds = 0x0000_000E, "Index Out of Bounds";
        /// The application namespace is not supported.
        ApplicationNamespaceNotSupported = 0x0000_000F, "Application Namespace Not Supported";
        /// The key format type is not supported.
        KeyFormatTypeNotSupported = 0x0000_0010, "Key Format Type Not Supported";
        /// The key compression type is not supported.
        KeyCompressionTypeNotSupported = 0x0000_0011, "Key Compression Type Not Supported";
        /// Encoding option error. KMIP 1.1+.
        EncodingOptionError = 0x0000_0012, "Encoding Option Error";
        /// The key value is not present. KMIP 1.2+.
        KeyValueNotPresent = 0x0000_0013, "Key Value Not Present";
        /// Attestation is required. KMIP 1.2+.
        AttestationRequired = 0x0000_0014, "Attestation Required";
        /// Attestation failed. KMIP 1.2+.
        AttestationFailed = 0x0000_0015, "Attestation Failed";
        /// The object is sensitive and cannot be returned in clear. KMIP 1.4+.
        Sensitive = 0x0000_0016, "Sensitive";
        /// The object is not extractable. KMIP 1.4+.
        NotExtractable = 0x0000_0017, "Not Extractable";
        /// The object already exists. KMIP 1.4+.
        ObjectAlreadyExists = 0x0000_0018, "Object Already Exists";
        /// The ticket is invalid. KMIP 2.0+.
        InvalidTicket = 0x0000_0019, "Invalid Ticket";
        /// A usage limit is exceeded. KMIP 2.0+.
        UsageLimitExceeded = 0x0000_001A, "Usage Limit Exceeded";
        /// A number is out of range. KMIP 2.0+.
        NumericRange = 0x0000_001B, "Numeric Range";
        /// A field has the wrong data type. KMIP 2.0+.
        InvalidDataType = 0x0000_001C, "Invalid Data Type";
        /// The attribute is read-only. KMIP 2.0+.
        ReadOnlyAttribute = 0x0000_001D, "Read Only Attribute";
        /// The attribute may have several values. KMIP 2.0+.
        MultiValuedAttribute = 0x0000_001E, "Multi Valued Attribute";
        /// The attribute is not supported. KMIP 2.0+.
        UnsupportedAttribute = 0x0000_001F, "Unsupported Attribute";
        /// No such attribute instance. KMIP 2.0+.
        AttributeInstanceNotFound = 0x0000_0020, "Attribute Instance Not Found";
        /// No such attribute. KMIP 2.0+.
        AttributeNotFound = 0x0000_0021, "Attribute Not Found";
        /// The attribute is read-only. KMIP 2.0+.
        AttributeReadOnly = 0x0000_0022, "Attribute Read Only";
        /// The attribute has a single value. KMIP 2.0+.
        AttributeSingleValued = 0x0000_0023, "Attribute Single Valued";
        /// Bad cryptographic parameters. KMIP 2.0+.
        BadCryptographicParameters = 0x0000_0024, "Bad Cryptographic Parameters";
        /// Bad password. KMIP 2.0+.
        BadPassword = 0x0000_0025, "Bad Password";
        /// The message could not be decoded. KMIP 2.0+.
        CodecError = 0x0000_0026, "Codec Error";
        /// The object type is not allowed here. KMIP 2.0+.
        IllegalObjectType = 0x0000_0028, "Illegal Object Type";
        /// The usage mask does not allow the operation. KMIP 2.0+.
        IncompatibleCryptographicUsageMask = 0x0000_0029, "Incompatible Cryptographic Usage Mask";
        /// The server failed internally. KMIP 2.0+.
        InternalServerError = 0x0000_002A, "Internal Server Error";
        /// Unknown asynchronous correlation value. KMIP 2.0+.
        InvalidAsynchronousCorrelationValue = 0x0000_002B, "Invalid Asynchronous Correlation Value";
        /// Invalid attribute. KMIP 2.0+.
        InvalidAttribute = 0x0000_002C, "Invalid Attribute";
        /// Invalid attribute value. KMIP 2.0+.
        InvalidAttributeValue = 0x0000_002D, "Invalid Attribute Value";
        /// Invalid correlation value. KMIP 2.0+.
        InvalidCorrelationValue = 0x0000_002E, "Invalid Correlation Value";
        /// Invalid certificate signing request. KMIP 2.0+.
        InvalidCsr = 0x0000_002F, "Invalid CSR";
        /// Invalid object type. KMIP 2.0+.
        InvalidObjectType = 0x0000_0030, "Invalid Object Type";
        /// The key wrap type is not supported. KMIP 2.0+.
        KeyWrapTypeNotSupported = 0x0000_0032, "Key Wrap Type Not Supported";
        /// An initialization vector is required. KMIP 2.0+.
        MissingInitializationVector = 0x0000_0034, "Missing Initialization Vector";
        /// The name is already used. KMIP 2.0+.
        NonUniqueNameAttribute = 0x0000_0035, "Non Unique Name Attribute";
        /// The object was destroyed. KMIP 2.0+.
        ObjectDestroyed = 0x0000_0036, "Object Destroyed";
        /// No such object. KMIP 2.0+.
        ObjectNotFound = 0x0000_0037, "Object Not Found";
        /// Not authorised. KMIP 2.0+.
        NotAuthorised = 0x0000_0039, "Not Authorised";
        /// A server limit is exceeded. KMIP 2.0+.
        ServerLimitExceeded = 0x0000_003A, "Server Limit Exceeded";
        /// An enumeration value is unknown. KMIP 2.0+.
        UnknownEnumeration = 0x0000_003B, "Unknown Enumeration";
        /// A message extension is unknown. KMIP 2.0+.
        UnknownMessageExtension = 0x0000_003C, "Unknown Message Extension";
        /// A tag is unknown. KMIP 2.0+.
        UnknownTag = 0x0000_003D, "Unknown Tag";
        /// The cryptographic parameters are not supported. KMIP 2.0+.
        UnsupportedCryptographicParameters = 0x0000_003E, "Unsupported Cryptographic Parameters";
        /// The protocol version is not supported. KMIP 2.0+.
        UnsupportedProtocolVersion = 0x0000_003F, "Unsupported Protocol Version";
        /// The wrapping object is archived. KMIP 2.0+.
        WrappingObjectArchived = 0x0000_0040, "Wrapping Object Archived";
        /// The wrapping object was destroyed. KMIP 2.0+.
        WrappingObjectDestroyed = 0x0000_0041, "Wrapping Object Destroyed";
        /// No such wrapping object. KMIP 2.0+.
        WrappingObjectNotFound = 0x0000_0042, "Wrapping Object Not Found";
        /// The key's life-cycle state does not allow the operation. KMIP 2.0+.
        WrongKeyLifecycleState = 0x0000_0043, "Wrong Key Lifecycle State";
        /// The requested protection storage is unavailable. KMIP 2.0+.
        ProtectionStorageUnavailable = 0x0000_0044, "Protection Storage Unavailable";
        /// A PKCS#11 call could not be decoded. KMIP 2.0+.
        Pkcs11CodecError = 0x0000_0045, "PKCS#11 Codec Error";
        /// Invalid PKCS#11 function. KMIP 2.0+.
        Pkcs11InvalidFunction = 0x0000_0046, "PKCS#11 Invalid Function";
        /// Invalid PKCS#11 interface. KMIP 2.0+.
        Pkcs11InvalidInterface = 0x0000_0047, "PKCS#11 Invalid Interface";
        /// Private protection storage unavailable. KMIP 2.1+.
        PrivateProtectionStorageUnavailable = 0x0000_0048, "Private Protection Storage Unavailable";
        /// Public protection storage unavailable. KMIP 2.1+.
        PublicProtectionStorageUnavailable = 0x0000_0049, "Public Protection Storage Unavailable";
        /// Unknown object group. KMIP 2.1+.
        UnknownObjectGroup = 0x0000_004A, "Unknown Object Group";
        /// A constraint is violated. KMIP 2.1+.
        ConstraintViolation = 0x0000_004B, "Constraint Violation";
        /// The request is already being processed. KMIP 2.1+.
        DuplicateProcessRequest = 0x0000_004C, "Duplicate Process Request";
        /// Any other failure.
        GeneralFailure = 0x0000_0100, "General Failure";
    }
}

kmip_enum! {
    /// Cryptographic Algorithm of a key or an operation.
    CryptographicAlgorithm, "Cryptographic Algorithm" {
        /// DES.
        Des = 0x0000_0001, "DES";
        /// Triple DES.
        TripleDes = 0x0000_0002, "3DES";
        /// AES.
        Aes = 0x0000_0003, "AES";
        /// RSA.
        Rsa = 0x0000_0004, "RSA";
        /// DSA.
        Dsa = 0x0000_0005, "DSA";
        /// ECDSA.
        Ecdsa = 0x0000_0006, "ECDSA";
        /// HMAC with SHA-1.
        HmacSha1 = 0x0000_0007, "HMAC-SHA1";
        /// HMAC with SHA-224.
        HmacSha224 = 0x0000_0008, "HMAC-SHA224";
        /// HMAC with SHA-256.
        HmacSha256 = 0x0000_0009, "HMAC-SHA256";
        /// HMAC with SHA-384.
        HmacSha384 = 0x0000_000A, "HMAC-SHA384";
        /// HMAC with SHA-512.
        HmacSha512 = 0x0000_000B, "HMAC-SHA512";
        /// HMAC with MD5.
        HmacMd5 = 0x0000_000C, "HMAC-MD5";
        /// Diffie-Hellman.
        Dh = 0x0000_000D, "DH";
        /// Elliptic-curve Diffie-Hellman.
        Ecdh = 0x0000_000E, "ECDH";
        /// ECMQV.
        Ecmqv = 0x0000_000F, "ECMQV";
        /// Blowfish.
        Blowfish = 0x0000_0010, "Blowfish";
        /// Camellia.
        Camellia = 0x0000_0011, "Camellia";
        /// CAST5.
        Cast5 = 0x0000_0012, "CAST5";
        /// IDEA.
        Idea = 0x0000_0013, "IDEA";
        /// MARS.
        Mars = 0x0000_0014, "MARS";
        /// RC2.
        Rc2 = 0x0000_0015, "RC2";
        /// RC4.
        Rc4 = 0x0000_0016, "RC4";
        /// RC5.
        Rc5 = 0x0000_0017, "RC5";
        /// SKIPJACK.
        Skipjack = 0x0000_0018, "SKIPJACK";
        /// Twofish.
        Twofish = 0x0000_0019, "Twofish";
        /// Elliptic curve (any EC algorithm). KMIP 1.2+.
        Ec = 0x0000_001A, "EC";
        /// One-time pad. KMIP 1.3+.
        OneTimePad = 0x0000_001B, "One Time Pad";
        /// ChaCha20. KMIP 1.4+.
        ChaCha20 = 0x0000_001C, "ChaCha20";
        /// Poly1305. KMIP 1.4+.
        Poly1305 = 0x0000_001D, "Poly1305";
        /// ChaCha20-Poly1305. KMIP 1.4+.
        ChaCha20Poly1305 = 0x0000_001E, "ChaCha20Poly1305";
        /// SHA3-224. KMIP 1.4+.
        Sha3_224 = 0x0000_001F, "SHA3-224";
        /// SHA3-256. KMIP 1.4+.
        Sha3_256 = 0x0000_0020, "SHA3-256";
        /// SHA3-384. KMIP 1.4+.
        Sha3_384 = 0x0000_0021, "SHA3-384";
        /// SHA3-512. KMIP 1.4+.
        Sha3_512 = 0x0000_0022, "SHA3-512";
        /// HMAC with SHA3-224. KMIP 1.4+.
        HmacSha3_224 = 0x0000_0023, "HMAC-SHA3-224";
        /// HMAC with SHA3-256. KMIP 1.4+.
        HmacSha3_256 = 0x0000_0024, "HMAC-SHA3-256";
        /// HMAC with SHA3-384. KMIP 1.4+.
        HmacSha3_384 = 0x0000_0025, "HMAC-SHA3-384";
        /// HMAC with SHA3-512. KMIP 1.4+.
        HmacSha3_512 = 0x0000_0026, "HMAC-SHA3-512";
        /// SHAKE-128. KMIP 1.4+.
        Shake128 = 0x0000_0027, "SHAKE-128";
        /// SHAKE-256. KMIP 1.4+.
        Shake256 = 0x0000_0028, "SHAKE-256";
        /// ARIA. KMIP 2.0+.
        Aria = 0x0000_0029, "ARIA";
        /// SEED. KMIP 2.0+.
        Seed = 0x0000_002A, "SEED";
        /// SM2. KMIP 2.0+.
        Sm2 = 0x0000_002B, "SM2";
        /// SM3. KMIP 2.0+.
        Sm3 = 0x0000_002C, "SM3";
        /// SM4. KMIP 2.0+.
        Sm4 = 0x0000_002D, "SM4";
        /// GOST R 34.10-2012. KMIP 2.0+.
        GostR34_10_2012 = 0x0000_002E, "GOST R 34.10-2012";
        /// GOST R 34.11-2012. KMIP 2.0+.
        GostR34_11_2012 = 0x0000_002F, "GOST R 34.11-2012";
        /// GOST R 34.13-2015. KMIP 2.0+.
        GostR34_13_2015 = 0x0000_0030, "GOST R 34.13-2015";
        /// GOST 28147-89. KMIP 2.0+.
        Gost28147_89 = 0x0000_0031, "GOST 28147-89";
        /// XMSS. KMIP 2.0+.
        Xmss = 0x0000_0032, "XMSS";
        /// SPHINCS-256. KMIP 2.0+.
        Sphincs256 = 0x0000_0033, "SPHINCS-256";
        /// McEliece. KMIP 2.0+.
        McEliece = 0x0000_0034, "McEliece";
        /// McEliece-6960119. KMIP 2.0+.
        McEliece6960119 = 0x0000_0035, "McEliece-6960119";
        /// McEliece-8192128. KMIP 2.0+.
        McEliece8192128 = 0x0000_0036, "McEliece-8192128";
        /// Ed25519. KMIP 2.0+.
        Ed25519 = 0x0000_0037, "Ed25519";
        /// Ed448. KMIP 2.0+.
        Ed448 = 0x0000_0038, "Ed448";
    }
}

kmip_enum! {
    /// Key Format Type: how key material is laid out in a Key Value.
    KeyFormatType, "Key Format Type" {
        /// The key bytes, unstructured.
        Raw = 0x0000_0001, "Raw";
        /// Bytes the server does not interpret.
        Opaque = 0x0000_0002, "Opaque";
        /// PKCS#1 DER.
        Pkcs1 = 0x0000_0003, "PKCS#1";
        /// PKCS#8 DER.
        Pkcs8 = 0x0000_0004, "PKCS#8";
        /// X.509 DER (SubjectPublicKeyInfo or certificate).
        X509 = 0x0000_0005, "X.509";
        /// SEC 1 ECPrivateKey DER.
        EcPrivateKey = 0x0000_0006, "ECPrivateKey";
        /// Key Material as a structure holding a Key byte string.
        TransparentSymmetricKey = 0x0000_0007, "Transparent Symmetric Key";
        /// DSA private key fields.
        TransparentDsaPrivateKey = 0x0000_0008, "Transparent DSA Private Key";
        /// DSA public key fields.
        TransparentDsaPublicKey = 0x0000_0009, "Transparent DSA Public Key";
        /// RSA private key fields (Big Integers).
        TransparentRsaPrivateKey = 0x0000_000A, "Transparent RSA Private Key";
        /// RSA public key fields (Big Integers).
        TransparentRsaPublicKey = 0x0000_000B, "Transparent RSA Public Key";
        /// DH private key fields.
        TransparentDhPrivateKey = 0x0000_000C, "Transparent DH Private Key";
        /// DH public key fields.
        TransparentDhPublicKey = 0x0000_000D, "Transparent DH Public Key";
        /// ECDSA private key fields. Deprecated by Transparent EC Private Key, reserved in 2.0.
        TransparentEcdsaPrivateKey = 0x0000_000E, "Transparent ECDSA Private Key";
        /// ECDSA public key fields. Deprecated by Transparent EC Public Key, reserved in 2.0.
        TransparentEcdsaPublicKey = 0x0000_000F, "Transparent ECDSA Public Key";
        /// ECDH private key fields. Deprecated by Transparent EC Private Key, reserved in 2.0.
        TransparentEcdhPrivateKey = 0x0000_0010, "Transparent ECDH Private Key";
        /// ECDH public key fields. Deprecated by Transparent EC Public Key, reserved in 2.0.
        TransparentEcdhPublicKey = 0x0000_0011, "Transparent ECDH Public Key";
        /// ECMQV private key fields. Deprecated by Transparent EC Private Key, reserved in 2.0.
        TransparentEcmqvPrivateKey = 0x0000_0012, "Transparent ECMQV Private Key";
        /// ECMQV public key fields. Deprecated by Transparent EC Public Key, reserved in 2.0.
        TransparentEcmqvPublicKey = 0x0000_0013, "Transparent ECMQV Public Key";
        /// EC private key fields. KMIP 1.3+.
        TransparentEcPrivateKey = 0x0000_0014, "Transparent EC Private Key";
        /// EC public key fields. KMIP 1.3+.
        TransparentEcPublicKey = 0x0000_0015, "Transparent EC Public Key";
        /// PKCS#12. KMIP 1.4+.
        Pkcs12 = 0x0000_0016, "PKCS#12";
        /// PKCS#10 certificate request. KMIP 2.0+.
        Pkcs10 = 0x0000_0017, "PKCS#10";
    }
}

kmip_enum! {
    /// State of a managed object in its life cycle.
    State, "State" {
        /// Not yet usable.
        PreActive = 0x0000_0001, "Pre-Active";
        /// Usable for everything its usage mask allows.
        Active = 0x0000_0002, "Active";
        /// Usable only to process (decrypt, verify) existing data.
        Deactivated = 0x0000_0003, "Deactivated";
        /// Revoked as compromised.
        Compromised = 0x0000_0004, "Compromised";
        /// Key material destroyed.
        Destroyed = 0x0000_0005, "Destroyed";
        /// Key material destroyed after a compromise.
        DestroyedCompromised = 0x0000_0006, "Destroyed Compromised";
    }
}

kmip_enum! {
    /// Revocation Reason Code given with Revoke.
    RevocationReasonCode, "Revocation Reason Code" {
        /// No reason given.
        Unspecified = 0x0000_0001, "Unspecified";
        /// The key was compromised.
        KeyCompromise = 0x0000_0002, "Key Compromise";
        /// The issuing CA was compromised.
        CaCompromise = 0x0000_0003, "CA Compromise";
        /// The owner's affiliation changed.
        AffiliationChanged = 0x0000_0004, "Affiliation Changed";
        /// Replaced by another object.
        Superseded = 0x0000_0005, "Superseded";
        /// No longer needed.
        CessationOfOperation = 0x0000_0006, "Cessation of Operation";
        /// The owner's privileges were withdrawn.
        PrivilegeWithdrawn = 0x0000_0007, "Privilege Withdrawn";
    }
}

kmip_enum! {
    /// Derivation Method of Derive Key.
    DerivationMethod, "Derivation Method" {
        /// PBKDF2.
        Pbkdf2 = 0x0000_0001, "PBKDF2";
        /// A hash of the base object.
        Hash = 0x0000_0002, "HASH";
        /// HMAC-based derivation (HKDF).
        Hmac = 0x0000_0003, "HMAC";
        /// Encryption of the derivation data.
        Encrypt = 0x0000_0004, "ENCRYPT";
        /// SP 800-108 counter mode.
        Nist800108C = 0x0000_0005, "NIST800-108-C";
        /// SP 800-108 feedback mode.
        Nist800108F = 0x0000_0006, "NIST800-108-F";
        /// SP 800-108 double-pipeline iteration mode.
        Nist800108Dpi = 0x0000_0007, "NIST800-108-DPI";
        /// Asymmetric key agreement.
        AsymmetricKey = 0x0000_0008, "Asymmetric Key";
    }
}

kmip_enum! {
    /// Block Cipher Mode in Cryptographic Parameters.
    BlockCipherMode, "Block Cipher Mode" {
        /// CBC.
        Cbc = 0x0000_0001, "CBC";
        /// ECB.
        Ecb = 0x0000_0002, "ECB";
        /// PCBC.
        Pcbc = 0x0000_0003, "PCBC";
        /// CFB.
        Cfb = 0x0000_0004, "CFB";
        /// OFB.
        Ofb = 0x0000_0005, "OFB";
        /// CTR.
        Ctr = 0x0000_0006, "CTR";
        /// CMAC.
        Cmac = 0x0000_0007, "CMAC";
        /// CCM.
        Ccm = 0x0000_0008, "CCM";
        /// GCM.
        Gcm = 0x0000_0009, "GCM";
        /// CBC-MAC.
        CbcMac = 0x0000_000A, "CBC-MAC";
        /// XTS.
        Xts = 0x0000_000B, "XTS";
        /// AES key wrap with padding (RFC 5649).
        AesKeyWrapPadding = 0x0000_000C, "AESKeyWrapPadding";
        /// NIST key wrap (SP 800-38F, RFC 3394).
        NistKeyWrap = 0x0000_000D, "NISTKeyWrap";
        /// X9.102 AESKW.
        X9_102Aeskw = 0x0000_000E, "X9.102 AESKW";
        /// X9.102 TDKW.
        X9_102Tdkw = 0x0000_000F, "X9.102 TDKW";
        /// X9.102 AKW1.
        X9_102Akw1 = 0x0000_0010, "X9.102 AKW1";
        /// X9.102 AKW2.
        X9_102Akw2 = 0x0000_0011, "X9.102 AKW2";
        /// AEAD (e.g. ChaCha20-Poly1305). KMIP 1.4+.
        Aead = 0x0000_0012, "AEAD";
    }
}

kmip_enum! {
    /// Padding Method in Cryptographic Parameters.
    PaddingMethod, "Padding Method" {
        /// No padding.
        None = 0x0000_0001, "None";
        /// RSA OAEP.
        Oaep = 0x0000_0002, "OAEP";
        /// PKCS#5 (PKCS#7) block padding.
        Pkcs5 = 0x0000_0003, "PKCS5";
        /// SSL 3 padding.
        Ssl3 = 0x0000_0004, "SSL3";
        /// Zero bytes.
        Zeros = 0x0000_0005, "Zeros";
        /// ANSI X9.23.
        AnsiX923 = 0x0000_0006, "ANSI X9.23";
        /// ISO 10126.
        Iso10126 = 0x0000_0007, "ISO 10126";
        /// RSA PKCS#1 v1.5.
        Pkcs1V15 = 0x0000_0008, "PKCS1 v1.5";
        /// X9.31.
        X931 = 0x0000_0009, "X9.31";
        /// RSA PSS.
        Pss = 0x0000_000A, "PSS";
    }
}

kmip_enum! {
    /// Hashing Algorithm in Cryptographic Parameters and Digest.
    HashingAlgorithm, "Hashing Algorithm" {
        /// MD2.
        Md2 = 0x0000_0001, "MD2";
        /// MD4.
        Md4 = 0x0000_0002, "MD4";
        /// MD5.
        Md5 = 0x0000_0003, "MD5";
        /// SHA-1.
        Sha1 = 0x0000_0004, "SHA-1";
        /// SHA-224.
        Sha224 = 0x0000_0005, "SHA-224";
        /// SHA-256.
        Sha256 = 0x0000_0006, "SHA-256";
        /// SHA-384.
        Sha384 = 0x0000_0007, "SHA-384";
        /// SHA-512.
        Sha512 = 0x0000_0008, "SHA-512";
        /// RIPEMD-160.
        Ripemd160 = 0x0000_0009, "RIPEMD-160";
        /// Tiger.
        Tiger = 0x0000_000A, "Tiger";
        /// Whirlpool.
        Whirlpool = 0x0000_000B, "Whirlpool";
        /// SHA-512/224. KMIP 1.2+.
        Sha512_224 = 0x0000_000C, "SHA-512/224";
        /// SHA-512/256. KMIP 1.2+.
        Sha512_256 = 0x0000_000D, "SHA-512/256";
        /// SHA3-224. KMIP 1.4+.
        Sha3_224 = 0x0000_000E, "SHA3-224";
        /// SHA3-256. KMIP 1.4+.
        Sha3_256 = 0x0000_000F, "SHA3-256";
        /// SHA3-384. KMIP 1.4+.
        Sha3_384 = 0x0000_0010, "SHA3-384";
        /// SHA3-512. KMIP 1.4+.
        Sha3_512 = 0x0000_0011, "SHA3-512";
    }
}

kmip_enum! {
    /// Query Function: what a Query asks the server to list.
    QueryFunction, "Query Function" {
        /// The operations the server supports.
        QueryOperations = 0x0000_0001, "Query Operations";
        /// The object types the server supports.
        QueryObjects = 0x0000_0002, "Query Objects";
        /// Vendor identification and server information.
        QueryServerInformation = 0x0000_0003, "Query Server Information";
        /// Supported application namespaces.
        QueryApplicationNamespaces = 0x0000_0004, "Query Application Namespaces";
        /// Supported extensions. KMIP 1.1+.
        QueryExtensionList = 0x0000_0005, "Query Extension List";
        /// Supported extensions with their tags and types. KMIP 1.1+.
        QueryExtensionMap = 0x0000_0006, "Query Extension Map";
        /// Supported attestation types. KMIP 1.2+.
        QueryAttestationTypes = 0x0000_0007, "Query Attestation Types";
        /// Random number generators. KMIP 1.3+.
        QueryRngs = 0x0000_0008, "Query RNGs";
        /// Validations (FIPS 140, Common Criteria). KMIP 1.3+.
        QueryValidations = 0x0000_0009, "Query Validations";
        /// Supported profiles. KMIP 1.3+.
        QueryProfiles = 0x0000_000A, "Query Profiles";
        /// Server capabilities. KMIP 1.3+.
        QueryCapabilities = 0x0000_000B, "Query Capabilities";
        /// Client registration methods. KMIP 1.3+.
        QueryClientRegistrationMethods = 0x0000_000C, "Query Client Registration Methods";
        /// Server defaults. KMIP 2.0+.
        QueryDefaultsInformation = 0x0000_000D, "Query Defaults Information";
        /// Storage protection masks. KMIP 2.0+.
        QueryStorageProtectionMasks = 0x0000_000E, "Query Storage Protection Masks";
    }
}

kmip_enum! {
    /// Name Type of a Name attribute.
    NameType, "Name Type" {
        /// Free text.
        UninterpretedTextString = 0x0000_0001, "Uninterpreted Text String";
        /// A URI.
        Uri = 0x0000_0002, "URI";
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check<E: KmipEnum + PartialEq + fmt::Debug>() {
        let mut previous = None;
        let mut names = Vec::new();
        for &value in E::ALL {
            let raw = value.to_u32();
            assert_eq!(E::from_u32(raw), Some(value), "{}", E::KIND);
            if let Some(previous) = previous {
                assert!(raw > previous, "{} values out of order", E::KIND);
            }
            previous = Some(raw);
            names.push(value.name());
        }
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), E::ALL.len(), "{} names not unique", E::KIND);
        assert_eq!(E::from_u32(0x8000_0000), None, "{}", E::KIND);
    }

    #[test]
    fn every_enumeration_round_trips_and_is_ordered() {
        check::<Operation>();
        check::<ObjectType>();
        check::<ResultStatus>();
        check::<ResultReason>();
        check::<CryptographicAlgorithm>();
        check::<KeyFormatType>();
        check::<State>();
        check::<RevocationReasonCode>();
        check::<BlockCipherMode>();
        check::<PaddingMethod>();
        check::<HashingAlgorithm>();
        check::<QueryFunction>();
        check::<NameType>();
        check::<DerivationMethod>();
    }

    #[test]
    fn values_match_the_specification() {
        // Spot checks of values the test cases of the specification use.
        assert_eq!(Operation::Create.to_u32(), 0x01);
        assert_eq!(Operation::Get.to_u32(), 0x0A);
        assert_eq!(Operation::Destroy.to_u32(), 0x14);
        assert_eq!(Operation::Query.to_u32(), 0x18);
        assert_eq!(Operation::DiscoverVersions.to_u32(), 0x1E);
        assert_eq!(Operation::Mac.to_u32(), 0x23);
        assert_eq!(Operation::Ping.to_u32(), 0x3B);
        assert_eq!(ObjectType::SymmetricKey.to_u32(), 0x02);
        assert_eq!(ObjectType::Template.to_u32(), 0x06);
        assert_eq!(CryptographicAlgorithm::Aes.to_u32(), 0x03);
        assert_eq!(CryptographicAlgorithm::HmacSha512.to_u32(), 0x0B);
        assert_eq!(ResultStatus::Success.to_u32(), 0);
        assert_eq!(ResultReason::InvalidMessage.to_u32(), 0x04);
        assert_eq!(ResultReason::GeneralFailure.to_u32(), 0x100);
        assert_eq!(ResultReason::from_u32(0x27), None, "0x27 is reserved");
        assert_eq!(KeyFormatType::Raw.to_u32(), 0x01);
        assert_eq!(KeyFormatType::TransparentSymmetricKey.to_u32(), 0x07);
        assert_eq!(State::DestroyedCompromised.to_u32(), 0x06);
        assert_eq!(NameType::UninterpretedTextString.to_u32(), 0x01);
        assert_eq!(ResultReason::ItemNotFound.to_string(), "Item Not Found");
        assert_eq!(u32::from(BlockCipherMode::Gcm), 0x09);
    }
}
