//! Tickets, their responses and attachment records; the ticket lists of owners and operators.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, TransactWriteItem, Update};

use super::users::put;
use super::{
    Item, Store, conditional_write, cursor, from_item, key, keys, n, s, sdk_error, to_item,
};
use crate::domain::UserId;
use crate::error::{Error, Result};
use crate::tickets::model::{
    Attachment, Category, Priority, Response, ResponseId, Status, Ticket, TicketId, TicketThread,
};

/// Ticket attributes a change may rewrite; everything else is fixed at creation.
const MUTABLE: [&str; 9] = [
    "status",
    "assigned_to",
    "closed_at",
    "updated_at",
    "public_responses",
    "internal_responses",
    keys::ATTACHMENT_COUNT,
    keys::VERSION,
    keys::PUBLIC_VERSION,
];
/// Query rounds a filtered list page may take before it returns what it found.
const LIST_ROUNDS: usize = 5;
/// Items a filtered query round evaluates.
const LIST_EVALUATED: i32 = 100;

/// Whose tickets a list shows.
#[derive(Debug, Clone, Copy)]
pub enum TicketScope {
    /// One user's own tickets (gsi1).
    Owner(UserId),
    /// Everyone's tickets, for operators (gsi2).
    All,
}

/// Filters of a ticket list; `None` matches everything.
#[derive(Debug, Clone, Default)]
pub struct TicketFilter {
    pub status: Option<Status>,
    pub category: Option<Category>,
    pub priority: Option<Priority>,
    pub assigned_to: Option<UserId>,
}

/// One page of a ticket list, newest first.
#[derive(Debug)]
pub struct TicketPage {
    pub tickets: Vec<Ticket>,
    /// Where the next page starts (not yet made opaque).
    pub next_position: Option<String>,
}

impl Store {
    /// Stores a new ticket in both list indexes.
    pub async fn create_ticket(&self, ticket: &Ticket) -> Result<()> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(ticket_item(ticket)?))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map_err(|e| sdk_error("PutItem", e))?;
        Ok(())
    }

    /// The ticket with this id, read consistently, without its responses.
    pub async fn find_ticket(&self, id: TicketId) -> Result<Option<Ticket>> {
        self.get(key(keys::ticket_pk(id), keys::TICKET_SK)).await
    }

    /// The ticket with its responses and attachment records, each in creation order, from one
    /// consistent query of its partition.
    pub async fn find_ticket_thread(&self, id: TicketId) -> Result<Option<TicketThread>> {
        let mut ticket = None;
        let mut responses = Vec::new();
        let mut attachments = Vec::new();
        for item in self.query_partition(keys::ticket_pk(id)).await? {
            match item.get(keys::SK) {
                Some(AttributeValue::S(sk)) if sk == keys::TICKET_SK => {
                    ticket = Some(from_item(item)?)
                }
                Some(AttributeValue::S(sk)) if sk.starts_with(keys::RESPONSE_PREFIX) => {
                    responses.push(from_item(item)?)
                }
                Some(AttributeValue::S(sk)) if sk.starts_with(keys::ATTACHMENT_PREFIX) => {
                    attachments.push(from_item(item)?)
                }
                _ => {}
            }
        }
        Ok(ticket.map(|ticket| TicketThread {
            ticket,
            responses,
            attachments,
        }))
    }

    /// A page of at most `limit` responses of a ticket in chronological order, after the
    /// response `after`, internal notes left out unless `internal`; and the response to
    /// continue after when more follow. Filtered rounds go on until one response more than the
    /// page is found or the thread ends; the thread is bounded by the per-ticket response cap.
    pub async fn list_responses(
        &self,
        ticket_id: TicketId,
        internal: bool,
        limit: usize,
        after: Option<ResponseId>,
    ) -> Result<(Vec<Response>, Option<ResponseId>)> {
        let pk = keys::ticket_pk(ticket_id);
        let mut start = after.map(|id| key(pk.clone(), keys::response_sk(id)));
        let mut responses: Vec<Response> = Vec::with_capacity(limit + 1);
        loop {
            let mut query = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                .expression_attribute_values(":pk", s(pk.clone()))
                .expression_attribute_values(":prefix", s(keys::RESPONSE_PREFIX))
                .consistent_read(true)
                .limit(i32::try_from(limit + 1 - responses.len()).map_err(Error::internal)?)
                .set_exclusive_start_key(start.take());
            if !internal {
                query = query
                    .filter_expression("is_internal = :no")
                    .expression_attribute_values(":no", AttributeValue::Bool(false));
            }
            let output = query.send().await.map_err(|e| sdk_error("Query", e))?;
            for item in output.items.unwrap_or_default() {
                responses.push(from_item(item)?);
            }
            start = output.last_evaluated_key;
            if start.is_none() || responses.len() > limit {
                break;
            }
        }
        let more = responses.len() > limit;
        responses.truncate(limit);
        let next = responses.last().filter(|_| more).map(|r| r.id);
        Ok((responses, next))
    }

    /// Writes a changed ticket if its stored version is still the one before `ticket.version`.
    /// Returns `false` when someone else changed it first.
    pub async fn update_ticket(&self, ticket: &Ticket) -> Result<bool> {
        let change = TicketChange::of(ticket)?;
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(change.key))
            .update_expression(change.expression)
            .condition_expression(change.condition)
            .set_expression_attribute_names(Some(change.names))
            .set_expression_attribute_values(Some(change.values))
            .send()
            .await;
        conditional_write("UpdateItem", result)
    }

    /// Adds a response and writes the ticket's new counters and status in one transaction, on
    /// the same version condition as [`Store::update_ticket`]. Returns `false` when the ticket
    /// changed first.
    pub async fn add_response(&self, ticket: &Ticket, response: &Response) -> Result<bool> {
        let change = TicketChange::of(ticket)?;
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(change.key))
            .update_expression(change.expression)
            .condition_expression(change.condition)
            .set_expression_attribute_names(Some(change.names))
            .set_expression_attribute_values(Some(change.values))
            .build()
            .map_err(Error::internal)?;
        let record = to_item(
            response,
            &[
                (keys::PK, keys::ticket_pk(response.ticket_id)),
                (keys::SK, keys::response_sk(response.id)),
            ],
        )?;
        let items = vec![
            TransactWriteItem::builder().update(update).build(),
            put(&self.table, record, Some("attribute_not_exists(pk)"))?,
        ];
        self.transact_guarded(items).await
    }

    /// Stores an attachment record and writes the changed `ticket` (its new versions and, for a
    /// file on the ticket itself, its count) in one transaction, on the same version condition
    /// as [`Store::update_ticket`]; a file on a response is counted on the response in the same
    /// transaction. The caller checked the count against the snapshot the condition names, so
    /// racing uploads cannot pass the limit. Returns `false` when the ticket changed first.
    pub async fn add_attachment(&self, ticket: &Ticket, attachment: &Attachment) -> Result<bool> {
        let pk = keys::ticket_pk(attachment.ticket_id);
        let change = TicketChange::of(ticket)?;
        let guard = Update::builder()
            .table_name(&self.table)
            .set_key(Some(change.key))
            .update_expression(change.expression)
            .condition_expression(change.condition)
            .set_expression_attribute_names(Some(change.names))
            .set_expression_attribute_values(Some(change.values))
            .build()
            .map_err(Error::internal)?;
        let mut items = vec![TransactWriteItem::builder().update(guard).build()];
        if let Some(response) = attachment.response_id {
            let count = Update::builder()
                .table_name(&self.table)
                .set_key(Some(key(pk.clone(), keys::response_sk(response))))
                .update_expression("SET #count = if_not_exists(#count, :zero) + :one")
                .condition_expression("attribute_exists(pk)")
                .expression_attribute_names("#count", keys::ATTACHMENT_COUNT)
                .expression_attribute_values(":zero", n(0))
                .expression_attribute_values(":one", n(1))
                .build()
                .map_err(Error::internal)?;
            items.push(TransactWriteItem::builder().update(count).build());
        }
        let record = to_item(
            attachment,
            &[
                (keys::PK, pk),
                (keys::SK, keys::attachment_sk(attachment.id)),
            ],
        )?;
        items.push(put(&self.table, record, Some("attribute_not_exists(pk)"))?);
        self.transact_guarded(items).await
    }

    /// A page of at most `limit` tickets in `scope` matching `filter`, newest first, from an
    /// index (never a scan). Filters are applied to bounded query rounds; when the rounds run
    /// out the page may be short (even empty) with a cursor to continue, and the cursor always
    /// points just past the last ticket returned, so every ticket appears exactly once across
    /// pages. A malformed `position`, or one from another list, is a 400 `invalid_cursor`.
    pub async fn list_tickets(
        &self,
        scope: TicketScope,
        filter: &TicketFilter,
        limit: usize,
        position: Option<&str>,
    ) -> Result<TicketPage> {
        let (index, partition_name, sort_name, partition) = match scope {
            TicketScope::Owner(user) => (
                keys::GSI1,
                keys::GSI1_PK,
                keys::GSI1_SK,
                keys::owner_tickets(user),
            ),
            TicketScope::All => (
                keys::GSI2,
                keys::GSI2_PK,
                keys::GSI2_SK,
                keys::ALL_TICKETS.to_owned(),
            ),
        };
        let key_names = [keys::PK, keys::SK, partition_name, sort_name];
        let mut start = position
            .map(|p| cursor::decode(p, &key_names))
            .transpose()?;
        if let Some(start) = &start {
            let belongs = start.get(partition_name) == Some(&s(partition.clone()))
                && start.get(keys::SK) == Some(&s(keys::TICKET_SK));
            if !belongs {
                return Err(Error::bad_request(
                    "invalid_cursor",
                    "the cursor belongs to another list",
                ));
            }
        }
        let (filter_expression, mut names, mut values) = filter_parts(filter)?;
        names.insert("#part".into(), partition_name.to_owned());
        values.insert(":part".into(), s(partition));
        // Unfiltered, one item more than the page tells whether another page exists.
        let evaluated = if filter_expression.is_some() {
            LIST_EVALUATED
        } else {
            i32::try_from(limit + 1).unwrap_or(LIST_EVALUATED)
        };
        let mut tickets = Vec::with_capacity(limit);
        for _ in 0..LIST_ROUNDS {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(index)
                .key_condition_expression("#part = :part")
                .set_filter_expression(filter_expression.clone())
                .set_expression_attribute_names(Some(names.clone()))
                .set_expression_attribute_values(Some(values.clone()))
                .scan_index_forward(false)
                .limit(evaluated)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| sdk_error("Query", e))?;
            let more = output.last_evaluated_key.is_some();
            let items = output.items.unwrap_or_default();
            let count = items.len();
            for (position, item) in items.into_iter().enumerate() {
                let next_position = cursor::encode(&item, &key_names)?;
                tickets.push(from_item(item)?);
                if tickets.len() == limit {
                    let rest = position + 1 < count || more;
                    return Ok(TicketPage {
                        tickets,
                        next_position: rest.then_some(next_position),
                    });
                }
            }
            start = output.last_evaluated_key;
            if start.is_none() {
                return Ok(TicketPage {
                    tickets,
                    next_position: None,
                });
            }
        }
        let next_position = start
            .map(|key| cursor::encode(&key, &key_names))
            .transpose()?;
        Ok(TicketPage {
            tickets,
            next_position,
        })
    }
}

/// The stored item of a ticket, with its keys in the table and both list indexes.
fn ticket_item(ticket: &Ticket) -> Result<Item> {
    to_item(
        ticket,
        &[
            (keys::PK, keys::ticket_pk(ticket.id)),
            (keys::SK, keys::TICKET_SK.to_owned()),
            (keys::GSI1_PK, keys::owner_tickets(ticket.owner_id)),
            (keys::GSI1_SK, ticket.id.to_string()),
            (keys::GSI2_PK, keys::ALL_TICKETS.to_owned()),
            (keys::GSI2_SK, ticket.id.to_string()),
        ],
    )
}

/// An update of a ticket's mutable attributes, conditional on its previous version.
struct TicketChange {
    key: Item,
    expression: String,
    condition: String,
    names: HashMap<String, String>,
    values: Item,
}

impl TicketChange {
    fn of(ticket: &Ticket) -> Result<TicketChange> {
        let mut item = ticket_item(ticket)?;
        let mut names = HashMap::new();
        let mut values = HashMap::new();
        let mut sets = Vec::new();
        for (i, attribute) in MUTABLE.iter().enumerate() {
            let value = item
                .remove(*attribute)
                .unwrap_or(AttributeValue::Null(true));
            names.insert(format!("#a{i}"), (*attribute).to_owned());
            values.insert(format!(":a{i}"), value);
            sets.push(format!("#a{i} = :a{i}"));
        }
        names.insert("#version".into(), keys::VERSION.to_owned());
        values.insert(":expected".into(), n(ticket.version.saturating_sub(1)));
        Ok(TicketChange {
            key: key(keys::ticket_pk(ticket.id), keys::TICKET_SK),
            expression: format!("SET {}", sets.join(", ")),
            condition: "#version = :expected".into(),
            names,
            values,
        })
    }
}

/// The filter expression of a list and its names and values.
fn filter_parts(filter: &TicketFilter) -> Result<(Option<String>, HashMap<String, String>, Item)> {
    let terms = [
        ("status", filter.status.as_ref().map(stored).transpose()?),
        (
            "category",
            filter.category.as_ref().map(stored).transpose()?,
        ),
        (
            "priority",
            filter.priority.as_ref().map(stored).transpose()?,
        ),
        (
            "assigned_to",
            filter.assigned_to.as_ref().map(stored).transpose()?,
        ),
    ];
    let mut names = HashMap::new();
    let mut values = HashMap::new();
    let mut conditions = Vec::new();
    for (name, value) in terms {
        if let Some(value) = value {
            names.insert(format!("#{name}"), name.to_owned());
            values.insert(format!(":{name}"), value);
            conditions.push(format!("#{name} = :{name}"));
        }
    }
    let expression = (!conditions.is_empty()).then(|| conditions.join(" AND "));
    Ok((expression, names, values))
}

/// A value in its stored form.
fn stored<T: serde::Serialize>(value: &T) -> Result<AttributeValue> {
    serde_dynamo::aws_sdk_dynamodb_1::to_attribute_value(value).map_err(Error::internal)
}
