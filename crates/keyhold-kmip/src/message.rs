//! Typed KMIP request and response messages: the header and batch structure of every version
//! from 1.0 to 2.1. Payloads stay [`Item`] trees here and are read by the typed accessors of
//! [`crate::payload`]; what differs between 1.x and 2.x (attributes) is normalized in
//! [`crate::attributes`].

use core::fmt;

use crate::enums::{Operation, ResultReason, ResultStatus};
use crate::tags;
use crate::ttlv::{Item, TtlvError};

/// A KMIP protocol version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProtocolVersion {
    /// Major.
    pub major: i32,
    /// Minor.
    pub minor: i32,
}

impl ProtocolVersion {
    /// Builds a version.
    pub const fn new(major: i32, minor: i32) -> Self {
        Self { major, minor }
    }

    /// The versions this crate speaks, newest first.
    pub const SUPPORTED: [ProtocolVersion; 7] = [
        Self::new(2, 1),
        Self::new(2, 0),
        Self::new(1, 4),
        Self::new(1, 3),
        Self::new(1, 2),
        Self::new(1, 1),
        Self::new(1, 0),
    ];

    /// Whether this is KMIP 2.x (attributes as tagged items, no Template-Attribute).
    pub fn is_2x(self) -> bool {
        self.major >= 2
    }

    /// Whether the version is one of [`Self::SUPPORTED`].
    pub fn is_supported(self) -> bool {
        Self::SUPPORTED.contains(&self)
    }

    /// Reads a Protocol Version structure.
    pub fn from_item(item: &Item) -> Result<Self, TtlvError> {
        Ok(Self {
            major: item.require(tags::PROTOCOL_VERSION_MAJOR)?.as_i32()?,
            minor: item.require(tags::PROTOCOL_VERSION_MINOR)?.as_i32()?,
        })
    }

    /// The Protocol Version structure.
    pub fn to_item(self) -> Item {
        Item::structure(
            tags::PROTOCOL_VERSION,
            vec![
                Item::int(tags::PROTOCOL_VERSION_MAJOR, self.major),
                Item::int(tags::PROTOCOL_VERSION_MINOR, self.minor),
            ],
        )
    }
}

impl fmt::Display for ProtocolVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// Why a request, or one of its batch items, failed: the Result Reason and Result Message of
/// the response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The reason.
    pub reason: ResultReason,
    /// A message for people (kept ASCII: some clients decode text byte by byte).
    pub message: String,
    /// Response Payload children sent with the failure, when the operation returns some on
    /// failure (Check: the Unique Identifier and the attribute that failed); usually none.
    pub payload: Vec<Item>,
}

impl Failure {
    /// A failure with `reason`.
    pub fn new(reason: ResultReason, message: impl Into<String>) -> Self {
        Self {
            reason,
            message: message.into(),
            payload: Vec::new(),
        }
    }

    /// The failure, answered with a Response Payload of `payload`.
    pub fn with_payload(mut self, payload: Vec<Item>) -> Self {
        self.payload = payload;
        self
    }

    /// A missing required field.
    pub fn missing(what: &str) -> Self {
        Self::new(ResultReason::MissingData, format!("missing {what}"))
    }

    /// A field with a value the server cannot use.
    pub fn invalid(what: impl Into<String>) -> Self {
        Self::new(ResultReason::InvalidField, what)
    }
}

impl From<TtlvError> for Failure {
    fn from(e: TtlvError) -> Self {
        let reason = if e.is_malformed() {
            ResultReason::InvalidMessage
        } else {
            ResultReason::InvalidField
        };
        Failure::new(reason, e.to_string())
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.reason.name(), self.message)
    }
}

/// One operation of a request.
#[derive(Debug, Clone)]
pub struct RequestBatchItem {
    /// The operation.
    pub operation: Operation,
    /// The client's id for this item, echoed in the response.
    pub id: Option<Vec<u8>>,
    /// The Request Payload (an empty structure when absent).
    pub payload: Item,
}

/// What to do with the remaining batch items after one fails (Batch Error Continuation Option).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnError {
    /// Stop; the remaining items are not executed (the default).
    Stop,
    /// Execute the remaining items anyway.
    Continue,
    /// Undo is not supported: treated like Stop by the server, which says so.
    Undo,
}

/// A decoded Request Message.
#[derive(Debug, Clone)]
pub struct RequestMessage {
    /// The version the client speaks.
    pub version: ProtocolVersion,
    /// The largest response the client accepts.
    pub max_response_size: Option<i32>,
    /// What to do after a failed item.
    pub on_error: OnError,
    /// The operations, in order.
    pub items: Vec<RequestBatchItem>,
}

/// The most batch items a request may carry.
pub const MAX_BATCH_ITEMS: usize = 1000;

impl RequestMessage {
    /// Reads a Request Message. The version is returned even when the rest fails, so that the
    /// error response can speak the client's version.
    pub fn from_item(item: &Item) -> Result<Self, (Option<ProtocolVersion>, Failure)> {
        if item.tag != tags::REQUEST_MESSAGE {
            return Err((
                None,
                Failure::new(ResultReason::InvalidMessage, "not a Request Message"),
            ));
        }
        let header = item
            .require(tags::REQUEST_HEADER)
            .map_err(|e| (None, e.into()))?;
        let version = header
            .require(tags::PROTOCOL_VERSION)
            .and_then(ProtocolVersion::from_item)
            .map_err(|e| (None, e.into()))?;
        let fail = |f: Failure| (Some(version), f);
        let max_response_size = header
            .child(tags::MAXIMUM_RESPONSE_SIZE)
            .map(Item::as_i32)
            .transpose()
            .map_err(|e| fail(e.into()))?;
        let on_error = match header
            .child(tags::BATCH_ERROR_CONTINUATION_OPTION)
            .map(Item::as_enum)
            .transpose()
            .map_err(|e| fail(e.into()))?
        {
            None | Some(2) => OnError::Stop,
            Some(1) => OnError::Undo,
            Some(3) => OnError::Continue,
            Some(v) => {
                return Err(fail(Failure::invalid(format!(
                    "unknown Batch Error Continuation Option {v}"
                ))))
            }
        };
        let count = header
            .require(tags::BATCH_COUNT)
            .and_then(Item::as_i32)
            .map_err(|e| fail(e.into()))?;
        let batch: Vec<&Item> = item.children(tags::BATCH_ITEM).collect();
        if batch.is_empty() || batch.len() > MAX_BATCH_ITEMS {
            return Err(fail(Failure::new(
                ResultReason::InvalidMessage,
                format!("a request carries 1 to {MAX_BATCH_ITEMS} batch items"),
            )));
        }
        if usize::try_from(count).ok() != Some(batch.len()) {
            return Err(fail(Failure::new(
                ResultReason::InvalidMessage,
                "Batch Count does not match the batch items",
            )));
        }
        let mut items = Vec::with_capacity(batch.len());
        for b in batch {
            let op_item = b.require(tags::OPERATION).map_err(|e| fail(e.into()))?;
            let raw = op_item.as_enum().map_err(|e| fail(e.into()))?;
            let operation = Operation::from_u32(raw).ok_or_else(|| {
                fail(Failure::new(
                    ResultReason::OperationNotSupported,
                    format!("unknown operation 0x{raw:08X}"),
                ))
            })?;
            let id = b
                .child(tags::UNIQUE_BATCH_ITEM_ID)
                .map(|i| i.as_bytes().map(|b| b.to_vec()))
                .transpose()
                .map_err(|e| fail(e.into()))?;
            let payload = b
                .child(tags::REQUEST_PAYLOAD)
                .cloned()
                .unwrap_or_else(|| Item::structure(tags::REQUEST_PAYLOAD, Vec::new()));
            payload.as_structure().map_err(|e| fail(e.into()))?;
            items.push(RequestBatchItem {
                operation,
                id,
                payload,
            });
        }
        Ok(Self {
            version,
            max_response_size,
            on_error,
            items,
        })
    }
}

/// One result of a response.
#[derive(Debug, Clone)]
pub struct ResponseBatchItem {
    /// The operation (absent only when the request could not be read at all).
    pub operation: Option<Operation>,
    /// The request item's id.
    pub id: Option<Vec<u8>>,
    /// The Response Payload children on success, or why it failed.
    pub result: Result<Vec<Item>, Failure>,
}

/// Builds a Response Message.
pub fn response(version: ProtocolVersion, time_stamp: i64, items: &[ResponseBatchItem]) -> Item {
    let count = i32::try_from(items.len()).unwrap_or(i32::MAX);
    let header = Item::structure(
        tags::RESPONSE_HEADER,
        vec![
            version.to_item(),
            Item::date_time(tags::TIME_STAMP, time_stamp),
            Item::int(tags::BATCH_COUNT, count),
        ],
    );
    let mut children = Vec::with_capacity(items.len() + 1);
    children.push(header);
    for it in items {
        let mut b = Vec::new();
        if let Some(op) = it.operation {
            b.push(Item::enumeration(tags::OPERATION, op.to_u32()));
        }
        if let Some(id) = &it.id {
            b.push(Item::bytes(tags::UNIQUE_BATCH_ITEM_ID, id.clone()));
        }
        match &it.result {
            Ok(payload) => {
                b.push(Item::enumeration(
                    tags::RESULT_STATUS,
                    ResultStatus::Success.to_u32(),
                ));
                b.push(Item::structure(tags::RESPONSE_PAYLOAD, payload.clone()));
            }
            Err(f) => {
                b.push(Item::enumeration(
                    tags::RESULT_STATUS,
                    ResultStatus::OperationFailed.to_u32(),
                ));
                b.push(Item::enumeration(tags::RESULT_REASON, f.reason.to_u32()));
                b.push(Item::text(tags::RESULT_MESSAGE, ascii(&f.message)));
                if !f.payload.is_empty() {
                    b.push(Item::structure(tags::RESPONSE_PAYLOAD, f.payload.clone()));
                }
            }
        }
        children.push(Item::structure(tags::BATCH_ITEM, b));
    }
    Item::structure(tags::RESPONSE_MESSAGE, children)
}

/// `s` with every non-ASCII or control character replaced by `?`.
pub fn ascii(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii() && !c.is_ascii_control() {
                c
            } else {
                '?'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ttlv::{decode, encode, Limits};

    fn request(version: ProtocolVersion, ops: &[Operation], count: i32) -> Item {
        let mut children = vec![Item::structure(
            tags::REQUEST_HEADER,
            vec![version.to_item(), Item::int(tags::BATCH_COUNT, count)],
        )];
        for op in ops {
            children.push(Item::structure(
                tags::BATCH_ITEM,
                vec![
                    Item::enumeration(tags::OPERATION, op.to_u32()),
                    Item::structure(tags::REQUEST_PAYLOAD, vec![]),
                ],
            ));
        }
        Item::structure(tags::REQUEST_MESSAGE, children)
    }

    #[test]
    fn request_round_trips_through_bytes() {
        let v = ProtocolVersion::new(1, 2);
        let item = request(v, &[Operation::Query, Operation::DiscoverVersions], 2);
        let bytes = encode(&item);
        let back = decode(&bytes, &Limits::DEFAULT).unwrap();
        let msg = RequestMessage::from_item(&back).unwrap();
        assert_eq!(msg.version, v);
        assert_eq!(msg.items.len(), 2);
        assert_eq!(msg.items[1].operation, Operation::DiscoverVersions);
        assert_eq!(msg.on_error, OnError::Stop);
    }

    #[test]
    fn a_wrong_batch_count_is_an_invalid_message_in_the_clients_version() {
        let v = ProtocolVersion::new(2, 0);
        let (version, f) =
            RequestMessage::from_item(&request(v, &[Operation::Query], 5)).unwrap_err();
        assert_eq!(version, Some(v));
        assert_eq!(f.reason, ResultReason::InvalidMessage);
    }

    #[test]
    fn response_has_header_and_failure_fields() {
        let r = response(
            ProtocolVersion::new(1, 4),
            1_700_000_000,
            &[ResponseBatchItem {
                operation: Some(Operation::Get),
                id: None,
                result: Err(Failure::new(ResultReason::ItemNotFound, "no such object é")),
            }],
        );
        let item = &r.as_structure().unwrap()[1];
        assert_eq!(
            item.require(tags::RESULT_REASON)
                .unwrap()
                .as_enum()
                .unwrap(),
            ResultReason::ItemNotFound.to_u32()
        );
        assert_eq!(
            item.require(tags::RESULT_MESSAGE)
                .unwrap()
                .as_text()
                .unwrap(),
            "no such object ?"
        );
        assert!(
            item.child(tags::RESPONSE_PAYLOAD).is_none(),
            "a failure has no payload unless given one"
        );
        let header = r.require(tags::RESPONSE_HEADER).unwrap();
        assert_eq!(
            header.require(tags::BATCH_COUNT).unwrap().as_i32().unwrap(),
            1
        );
    }

    #[test]
    fn a_failure_may_carry_a_payload() {
        let r = response(
            ProtocolVersion::new(1, 2),
            1_700_000_000,
            &[ResponseBatchItem {
                operation: Some(Operation::Check),
                id: None,
                result: Err(Failure::new(ResultReason::PermissionDenied, "usage mask")
                    .with_payload(vec![Item::text(tags::UNIQUE_IDENTIFIER, "k1")])),
            }],
        );
        let item = &r.as_structure().unwrap()[1];
        let children = item.as_structure().unwrap();
        assert_eq!(
            children.last().map(|c| c.tag),
            Some(tags::RESPONSE_PAYLOAD),
            "after Result Status, Reason and Message"
        );
        let payload = item.require(tags::RESPONSE_PAYLOAD).unwrap();
        assert_eq!(
            payload
                .require(tags::UNIQUE_IDENTIFIER)
                .unwrap()
                .as_text()
                .unwrap(),
            "k1"
        );
    }
}
