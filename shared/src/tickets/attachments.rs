//! Ticket attachments: the record of each file on the ticket and a presigned S3 URL to upload
//! or download it. The only part of the tickets service that reaches S3, so it is compiled with
//! the `blobs` feature only.

use std::collections::BTreeMap;

use super::model::{Attachment, AttachmentId, Status};
use super::views::{DownloadView, UploadView};
use super::{
    MAX_ATTACHMENTS, NewAttachment, TicketId, URL_TTL, WRITE_ATTEMPTS, bump, changed, closed, etag,
    load_thread, tagged,
};
use crate::context::Context;
use crate::domain::User;
use crate::error::{Error, Result};
use crate::http::{IfMatch, Tagged};
use crate::store::keys;

/// Records an attachment on the ticket or on one of the caller's own responses and returns a
/// presigned PUT for it (valid [`URL_TTL`]), tagged with the ticket's new [`etag`].
/// Participants only (403); a stale `if_match` is 412; a closed ticket is 409; a response that
/// is not there (or not visible) is 404, someone else's 403; the sixth file on a ticket or
/// response is 409 `too_many_attachments` (counted in the version-checked write, so racing
/// uploads cannot pass it). Type and size are checked by the caller into [`NewAttachment`].
pub async fn add(
    ctx: &Context,
    user: &User,
    id: TicketId,
    new: NewAttachment,
    if_match: &IfMatch,
) -> Result<Tagged<UploadView>> {
    for _ in 0..WRITE_ATTEMPTS {
        let (thread, access) = load_thread(ctx, user, id).await?;
        access.require_participant()?;
        if_match.check(&etag(&thread.ticket, access.operator_read))?;
        if thread.ticket.status == Status::Closed {
            return Err(closed());
        }
        let mut next = thread.ticket.clone();
        let (count, public) = match new.response_id {
            None => {
                next.attachment_count += 1;
                (thread.ticket.attachment_count, true)
            }
            Some(response_id) => {
                let response = thread
                    .responses
                    .iter()
                    .find(|r| r.id == response_id && (access.operator_read || !r.is_internal))
                    .ok_or_else(|| Error::not_found("response"))?;
                if response.author_id != user.id {
                    return Err(Error::forbidden(
                        "not_your_response",
                        "files can only be attached to your own responses",
                    ));
                }
                (response.attachment_count, !response.is_internal)
            }
        };
        if count >= MAX_ATTACHMENTS {
            return Err(Error::conflict(
                "too_many_attachments",
                format!("at most {MAX_ATTACHMENTS} files per ticket or response"),
            ));
        }
        // A file on an internal note is as invisible to the owner as the note.
        bump(&mut next, public);
        let now = ctx.now();
        let attachment_id = AttachmentId::new();
        let attachment = Attachment {
            id: attachment_id,
            ticket_id: id,
            response_id: new.response_id,
            uploaded_by: user.id,
            file_name: new.file_name.clone(),
            content_type: new.file_type,
            size: new.size,
            object_key: keys::attachment_object(id, attachment_id),
            created_at: now,
        };
        if !ctx.store.add_attachment(&next, &attachment).await? {
            continue;
        }
        let signed = ctx
            .blobs
            .presign_put(
                &attachment.object_key,
                new.file_type.media_type(),
                new.size,
                now,
                URL_TTL,
            )
            .await?;
        let upload_headers: BTreeMap<String, String> = signed
            .headers
            .into_iter()
            .filter(|(name, _)| !name.eq_ignore_ascii_case("content-length"))
            .collect();
        let view = UploadView {
            attachment_id: attachment_id.to_string(),
            upload_url: signed.url,
            upload_headers,
            expires_at: (now + URL_TTL).into(),
        };
        return Ok(tagged(&next, access, view));
    }
    Err(changed())
}

/// A presigned GET (valid [`URL_TTL`]) for an attachment of a ticket the caller can see;
/// files on internal notes only for operators (404 otherwise).
pub async fn download(
    ctx: &Context,
    user: &User,
    id: TicketId,
    attachment_id: AttachmentId,
) -> Result<DownloadView> {
    let (thread, access) = load_thread(ctx, user, id).await?;
    let not_found = || Error::not_found("attachment");
    let attachment = thread
        .attachments
        .iter()
        .find(|a| a.id == attachment_id)
        .ok_or_else(not_found)?;
    let on_internal_note = attachment.response_id.is_some_and(|r| {
        thread
            .responses
            .iter()
            .any(|response| response.id == r && response.is_internal)
    });
    if on_internal_note && !access.operator_read {
        return Err(not_found());
    }
    let now = ctx.now();
    let download_url = ctx
        .blobs
        .presign_get(
            &attachment.object_key,
            &attachment.file_name,
            attachment.content_type.media_type(),
            now,
            URL_TTL,
        )
        .await?;
    Ok(DownloadView {
        download_url,
        expires_at: (now + URL_TTL).into(),
    })
}
