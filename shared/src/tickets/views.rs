//! Response bodies of the tickets route group. Whether internal notes appear is decided when a
//! view is built, so a view made for a ticket's owner never contains them or their count.

use std::collections::BTreeMap;

use serde::Serialize;
use utoipa::ToSchema;

use crate::views::Timestamp;

use super::model::{Attachment, Category, FileType, Priority, Response, Status, Ticket};

/// A ticket as listed and as shown on its own.
#[derive(Debug, Serialize, ToSchema)]
pub struct TicketView {
    pub id: String,
    pub owner_id: String,
    pub subject: String,
    pub description: String,
    pub category: Category,
    pub priority: Priority,
    pub status: Status,
    pub assigned_to: Option<String>,
    /// Responses the caller can see (internal notes count for operators only).
    pub response_count: u32,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub closed_at: Option<Timestamp>,
}

impl TicketView {
    /// The view of `ticket` for a caller who does (`internal`) or does not see internal notes.
    pub fn new(ticket: &Ticket, internal: bool) -> TicketView {
        let hidden = if internal {
            ticket.internal_responses
        } else {
            0
        };
        TicketView {
            id: ticket.id.to_string(),
            owner_id: ticket.owner_id.to_string(),
            subject: ticket.subject.clone(),
            description: ticket.description.clone(),
            category: ticket.category,
            priority: ticket.priority,
            status: ticket.status,
            assigned_to: ticket.assigned_to.map(|u| u.to_string()),
            response_count: ticket.public_responses + hidden,
            created_at: ticket.created_at.into(),
            updated_at: ticket.updated_at.into(),
            closed_at: ticket.closed_at.map(Timestamp::from),
        }
    }
}

/// A response on a ticket.
#[derive(Debug, Serialize, ToSchema)]
pub struct ResponseView {
    pub id: String,
    pub author_id: String,
    pub message: String,
    pub is_internal: bool,
    pub created_at: Timestamp,
}

impl From<&Response> for ResponseView {
    fn from(response: &Response) -> Self {
        ResponseView {
            id: response.id.to_string(),
            author_id: response.author_id.to_string(),
            message: response.message.clone(),
            is_internal: response.is_internal,
            created_at: response.created_at.into(),
        }
    }
}

/// A file on a ticket (`response_id` null) or on one of its responses.
#[derive(Debug, Serialize, ToSchema)]
pub struct AttachmentView {
    pub id: String,
    pub response_id: Option<String>,
    pub uploaded_by: String,
    pub file_name: String,
    pub content_type: FileType,
    pub size: u64,
    pub created_at: Timestamp,
}

impl From<&Attachment> for AttachmentView {
    fn from(attachment: &Attachment) -> Self {
        AttachmentView {
            id: attachment.id.to_string(),
            response_id: attachment.response_id.map(|r| r.to_string()),
            uploaded_by: attachment.uploaded_by.to_string(),
            file_name: attachment.file_name.clone(),
            content_type: attachment.content_type,
            size: attachment.size,
            created_at: attachment.created_at.into(),
        }
    }
}

/// A ticket with its first responses in chronological order and its attachments.
#[derive(Debug, Serialize, ToSchema)]
pub struct TicketDetailView {
    #[serde(flatten)]
    pub ticket: TicketView,
    /// The first 20 responses the caller can see, oldest first.
    pub responses: Vec<ResponseView>,
    /// The `cursor` of `GET /v1/tickets/{id}/responses` for the responses after these; `null`
    /// when all are shown.
    pub responses_next_cursor: Option<String>,
    pub attachments: Vec<AttachmentView>,
}

/// Where to upload a new attachment.
#[derive(Debug, Serialize, ToSchema)]
pub struct UploadView {
    pub attachment_id: String,
    /// A presigned S3 PUT; send the body with exactly the declared size and `upload_headers`.
    pub upload_url: String,
    /// Headers the upload must carry (the signed content type).
    pub upload_headers: BTreeMap<String, String>,
    pub expires_at: Timestamp,
}

/// Where to download an attachment.
#[derive(Debug, Serialize, ToSchema)]
pub struct DownloadView {
    /// A presigned S3 GET.
    pub download_url: String,
    pub expires_at: Timestamp,
}
