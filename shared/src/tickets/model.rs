//! Ticket records and the rules that hold for them whatever the caller: the status workflow and
//! the accepted attachment types. Stored timestamps are epoch milliseconds.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::{UserId, uuid_id};
use crate::error::{Error, Result};

uuid_id!(
    /// A support ticket's id.
    TicketId,
    "ticket"
);
uuid_id!(
    /// A ticket response's id.
    ResponseId,
    "response"
);
uuid_id!(
    /// An attachment's id; also the last part of its S3 object key.
    AttachmentId,
    "attachment"
);

/// What a ticket is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    General,
    Technical,
    Billing,
    Other,
}

/// How urgent a ticket is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Priority {
    Low,
    Normal,
    High,
    Urgent,
}

/// Where a ticket is in its workflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Open,
    InProgress,
    AwaitingReply,
    Resolved,
    Closed,
}

impl Status {
    /// Every status, in workflow order.
    pub const ALL: [Status; 5] = [
        Status::Open,
        Status::InProgress,
        Status::AwaitingReply,
        Status::Resolved,
        Status::Closed,
    ];

    /// Whether an operator may move a ticket from `self` to `next` with a status change:
    /// open → in_progress | awaiting_reply; in_progress → awaiting_reply | resolved;
    /// awaiting_reply → in_progress | resolved; resolved → in_progress (reopen). Closing is
    /// not a status change; it goes through [`Status::can_close`].
    pub fn can_move_to(self, next: Status) -> bool {
        use Status::*;
        matches!(
            (self, next),
            (Open, InProgress | AwaitingReply)
                | (InProgress, AwaitingReply | Resolved)
                | (AwaitingReply, InProgress | Resolved)
                | (Resolved, InProgress)
        )
    }

    /// Whether a ticket in this status can be closed (any status but closed).
    pub fn can_close(self) -> bool {
        self != Status::Closed
    }

    /// The stored and API name.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::InProgress => "in_progress",
            Status::AwaitingReply => "awaiting_reply",
            Status::Resolved => "resolved",
            Status::Closed => "closed",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A support ticket. `version` increases with every change and every change is written on the
/// condition that it did not move meanwhile, so no update is ever lost. `public_version`
/// increases with every change the owner can see (everything but internal notes and files on
/// them): it is the version named by the owner's `ETag`, which must not reveal internal notes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Ticket {
    pub id: TicketId,
    pub owner_id: UserId,
    pub subject: String,
    pub description: String,
    pub category: Category,
    pub priority: Priority,
    pub status: Status,
    pub assigned_to: Option<UserId>,
    /// Responses the owner can see.
    pub public_responses: u32,
    /// Internal notes, counted apart so the owner's count never reveals them.
    pub internal_responses: u32,
    /// Attachment records on the ticket itself (not on its responses).
    #[serde(default)]
    pub attachment_count: u32,
    pub version: u64,
    #[serde(default)]
    pub public_version: u64,
    #[serde(with = "chrono::serde::ts_milliseconds")]
    pub created_at: DateTime<Utc>,
    #[serde(with = "chrono::serde::ts_milliseconds")]
    pub updated_at: DateTime<Utc>,
    #[serde(with = "chrono::serde::ts_milliseconds_option")]
    pub closed_at: Option<DateTime<Utc>>,
}

/// A message on a ticket; internal ones are notes between operators.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Response {
    pub id: ResponseId,
    pub ticket_id: TicketId,
    pub author_id: UserId,
    pub message: String,
    pub is_internal: bool,
    #[serde(default)]
    pub attachment_count: u32,
    #[serde(with = "chrono::serde::ts_milliseconds")]
    pub created_at: DateTime<Utc>,
}

/// The record of a file on a ticket or one of its responses. It is written when the upload URL
/// is handed out; the bytes live in S3 under `object_key`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Attachment {
    pub id: AttachmentId,
    pub ticket_id: TicketId,
    pub response_id: Option<ResponseId>,
    pub uploaded_by: UserId,
    /// The name the user gave, shown back to them; never part of the object key.
    pub file_name: String,
    pub content_type: FileType,
    pub size: u64,
    pub object_key: String,
    #[serde(with = "chrono::serde::ts_milliseconds")]
    pub created_at: DateTime<Utc>,
}

/// A ticket with its responses (chronological) and attachment records, as stored.
#[derive(Debug, Clone)]
pub struct TicketThread {
    pub ticket: Ticket,
    pub responses: Vec<Response>,
    pub attachments: Vec<Attachment>,
}

/// The accepted attachment types, named by their media type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum FileType {
    #[serde(rename = "image/jpeg")]
    Jpeg,
    #[serde(rename = "image/png")]
    Png,
    #[serde(rename = "image/gif")]
    Gif,
    #[serde(rename = "application/pdf")]
    Pdf,
    #[serde(rename = "application/msword")]
    Doc,
    #[serde(rename = "application/vnd.openxmlformats-officedocument.wordprocessingml.document")]
    Docx,
    #[serde(rename = "text/plain")]
    Txt,
    #[serde(rename = "application/zip")]
    Zip,
}

impl FileType {
    const ALL: [FileType; 8] = [
        FileType::Jpeg,
        FileType::Png,
        FileType::Gif,
        FileType::Pdf,
        FileType::Doc,
        FileType::Docx,
        FileType::Txt,
        FileType::Zip,
    ];

    /// The media type, as sent to S3 and signed into the upload URL.
    pub fn media_type(self) -> &'static str {
        match self {
            FileType::Jpeg => "image/jpeg",
            FileType::Png => "image/png",
            FileType::Gif => "image/gif",
            FileType::Pdf => "application/pdf",
            FileType::Doc => "application/msword",
            FileType::Docx => {
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
            }
            FileType::Txt => "text/plain",
            FileType::Zip => "application/zip",
        }
    }

    fn extensions(self) -> &'static [&'static str] {
        match self {
            FileType::Jpeg => &["jpg", "jpeg"],
            FileType::Png => &["png"],
            FileType::Gif => &["gif"],
            FileType::Pdf => &["pdf"],
            FileType::Doc => &["doc"],
            FileType::Docx => &["docx"],
            FileType::Txt => &["txt"],
            FileType::Zip => &["zip"],
        }
    }

    /// The type of a declared file: its media type must be one of the accepted ones and its
    /// file name must end with a matching extension; otherwise 415 `unsupported_file_type`.
    pub fn of(content_type: &str, file_name: &str) -> Result<FileType> {
        let essence = content_type.split(';').next().unwrap_or("").trim();
        let extension = file_name
            .rsplit_once('.')
            .map(|(_, ext)| ext.to_ascii_lowercase())
            .unwrap_or_default();
        FileType::ALL
            .into_iter()
            .find(|t| t.media_type().eq_ignore_ascii_case(essence))
            .filter(|t| t.extensions().contains(&extension.as_str()))
            .ok_or_else(|| Error::UnsupportedMediaType {
                code: "unsupported_file_type",
                message: "attach jpeg, png, gif, pdf, doc, docx, txt or zip files, named with \
                          their extension"
                    .into(),
            })
    }
}
