//! Audit events: written once, listed newest first from the partition the filter names.

use aws_sdk_dynamodb::types::TransactWriteItem;
use chrono::{DateTime, Datelike, Months, NaiveDate, Utc};
use uuid::Uuid;

use super::users::put;
use super::{Item, Store, expiring, from_item, keys, s, sdk_error, to_item};
use crate::audit::{Filter, Record};
use crate::error::{Error, Result};

/// The item of an audit record, in its month partition and the indexes of its actor, subject
/// and type.
pub(super) fn audit_item(record: &Record) -> Result<Item> {
    let id = record.id.to_string();
    let mut keys = vec![
        (keys::PK, keys::audit_pk(record.at)),
        (keys::SK, keys::audit_sk(&id)),
        (keys::GSI1_PK, keys::audit_actor(&record.actor)),
        (keys::GSI1_SK, id.clone()),
        (keys::GSI3_PK, keys::audit_type(record.kind.as_str())),
        (keys::GSI3_SK, id.clone()),
    ];
    if let Some(subject) = &record.subject {
        keys.push((keys::GSI2_PK, keys::audit_subject(&subject.id)));
        keys.push((keys::GSI2_SK, id));
    }
    let mut item = to_item(record, &keys)?;
    expiring(&mut item, record.expires_at.timestamp());
    Ok(item)
}

/// The Put of an audit record inside the transaction of the change it describes.
pub(super) fn audit_put(table: &str, record: &Record) -> Result<TransactWriteItem> {
    put(table, audit_item(record)?, None)
}

/// The smallest UUID v7 of the millisecond `at` (`ceiling`: the largest).
fn id_bound(at: DateTime<Utc>, ceiling: bool) -> Uuid {
    let millis = u128::try_from(at.timestamp_millis()).unwrap_or(0);
    let time = millis << 80;
    if ceiling {
        Uuid::from_u128(time | ((1u128 << 80) - 1))
    } else {
        Uuid::from_u128(time)
    }
}

/// Where a filtered list reads: one index partition, or the table's month partitions.
struct Source {
    index: Option<&'static str>,
    /// Partition keys, newest first.
    partitions: Vec<String>,
    sk_prefix: &'static str,
    /// Filter members the partition does not already decide.
    actor: Option<String>,
    kind: Option<&'static str>,
}

/// The month partitions from `until`'s month back to `since`'s.
fn months(since: DateTime<Utc>, until: DateTime<Utc>) -> Vec<String> {
    let first_of = |at: DateTime<Utc>| {
        NaiveDate::from_ymd_opt(at.year(), at.month(), 1)
            .unwrap_or_default()
            .and_hms_opt(0, 0, 0)
            .unwrap_or_default()
            .and_utc()
    };
    let floor = first_of(since);
    let mut month = first_of(until);
    let mut partitions = Vec::new();
    while month >= floor {
        partitions.push(keys::audit_pk(month));
        match month.checked_sub_months(Months::new(1)) {
            Some(earlier) => month = earlier,
            None => break,
        }
    }
    partitions
}

impl Source {
    /// The narrowest partition of `filter`: its subject, else its actor, else its type, else
    /// the months of the time range. The other members become a filter on that partition.
    fn of(filter: &Filter, since: DateTime<Utc>, until: DateTime<Utc>) -> Source {
        let kind = filter.kind.map(|k| k.as_str());
        if let Some(subject) = &filter.subject {
            return Source {
                index: Some(keys::GSI2),
                partitions: vec![keys::audit_subject(subject)],
                sk_prefix: "",
                actor: filter.actor.clone(),
                kind,
            };
        }
        if let Some(actor) = &filter.actor {
            return Source {
                index: Some(keys::GSI1),
                partitions: vec![keys::audit_actor(actor)],
                sk_prefix: "",
                actor: None,
                kind,
            };
        }
        if let Some(kind) = kind {
            return Source {
                index: Some(keys::GSI3),
                partitions: vec![keys::audit_type(kind)],
                sk_prefix: "",
                actor: None,
                kind: None,
            };
        }
        Source {
            index: None,
            partitions: months(since, until),
            sk_prefix: keys::EVENT_PREFIX,
            actor: None,
            kind: None,
        }
    }

    fn partition_key(&self) -> &'static str {
        match self.index {
            Some(index) if index == keys::GSI1 => keys::GSI1_PK,
            Some(index) if index == keys::GSI2 => keys::GSI2_PK,
            Some(_) => keys::GSI3_PK,
            None => keys::PK,
        }
    }

    fn sort_key(&self) -> &'static str {
        match self.index {
            Some(index) if index == keys::GSI1 => keys::GSI1_SK,
            Some(index) if index == keys::GSI2 => keys::GSI2_SK,
            Some(_) => keys::GSI3_SK,
            None => keys::SK,
        }
    }
}

impl Store {
    /// Stores an audit record on its own.
    pub async fn put_audit_record(&self, record: &Record) -> Result<()> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(audit_item(record)?))
            .send()
            .await
            .map_err(|e| sdk_error("PutItem", e))?;
        Ok(())
    }

    /// At most `limit` records matching `filter` between `since` and `until` (and before the
    /// record `before`, the last of the previous page), newest first, and the id to continue
    /// before when more follow. Reads the one partition `filter` names (see [`Source::of`]),
    /// or month partitions newest first, never the whole table; members of the filter the
    /// partition does not decide are a filter expression on it.
    pub async fn list_audit_records(
        &self,
        filter: &Filter,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
        before: Option<Uuid>,
        limit: usize,
    ) -> Result<(Vec<Record>, Option<Uuid>)> {
        let source = Source::of(filter, since, until);
        let low = format!("{}{}", source.sk_prefix, id_bound(since, false));
        let mut high_id = id_bound(until, true);
        if let Some(before) = before {
            // Exclusive: the id just below the last one listed.
            high_id = high_id.min(Uuid::from_u128(before.as_u128().saturating_sub(1)));
        }
        if high_id < id_bound(since, false) {
            return Ok((Vec::new(), None));
        }
        let high = format!("{}{}", source.sk_prefix, high_id);
        let mut conditions = Vec::new();
        let mut values: Vec<(&str, String)> = Vec::new();
        if let Some(actor) = &source.actor {
            conditions.push("actor = :actor");
            values.push((":actor", actor.clone()));
        }
        if let Some(kind) = source.kind {
            conditions.push("#type = :type");
            values.push((":type", kind.to_owned()));
        }
        let mut records = Vec::new();
        for partition in &source.partitions {
            let mut start: Option<Item> = None;
            loop {
                let wanted = limit + 1 - records.len();
                let mut query = self
                    .client
                    .query()
                    .table_name(&self.table)
                    .set_index_name(source.index.map(str::to_owned))
                    .key_condition_expression("#pk = :pk AND #sk BETWEEN :low AND :high")
                    .expression_attribute_names("#pk", source.partition_key())
                    .expression_attribute_names("#sk", source.sort_key())
                    .expression_attribute_values(":pk", s(partition))
                    .expression_attribute_values(":low", s(&low))
                    .expression_attribute_values(":high", s(&high))
                    .scan_index_forward(false)
                    .limit(i32::try_from(wanted).map_err(Error::internal)?)
                    .set_exclusive_start_key(start);
                if !conditions.is_empty() {
                    query = query.filter_expression(conditions.join(" AND "));
                    if source.kind.is_some() {
                        query = query.expression_attribute_names("#type", "type");
                    }
                    for (name, value) in &values {
                        query = query.expression_attribute_values(*name, s(value));
                    }
                }
                let output = query.send().await.map_err(|e| sdk_error("Query", e))?;
                for item in output.items.unwrap_or_default() {
                    records.push(from_item::<Record>(item)?);
                }
                start = output.last_evaluated_key;
                if records.len() > limit {
                    records.truncate(limit);
                    let next = records.last().map(|r| r.id);
                    return Ok((records, next));
                }
                if start.is_none() {
                    break;
                }
            }
        }
        Ok((records, None))
    }
}
