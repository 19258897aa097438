//! The table definition: one function used by the tests, the local bootstrap and (checked by a
//! test) mirrored in `template.yaml`.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
};

use super::{Store, keys, sdk_error};
use crate::error::{Error, Result};

/// A plain description of the table, comparable with `template.yaml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableSpec {
    /// (attribute, type) pairs: `S` or `N`.
    pub attributes: Vec<(&'static str, &'static str)>,
    pub partition_key: &'static str,
    pub sort_key: &'static str,
    /// (index name, partition attribute, sort attribute); every index projects all attributes.
    pub indexes: Vec<(&'static str, &'static str, &'static str)>,
    pub ttl_attribute: &'static str,
}

/// Sesame's table: string `pk`/`sk`, generic `gsi1`, `gsi2` and `gsi3`, the sparse `expiry` index, TTL on `expires_at`.
pub fn table_spec() -> TableSpec {
    TableSpec {
        attributes: vec![
            (keys::PK, "S"),
            (keys::SK, "S"),
            (keys::GSI1_PK, "S"),
            (keys::GSI1_SK, "S"),
            (keys::GSI2_PK, "S"),
            (keys::GSI2_SK, "S"),
            (keys::GSI3_PK, "S"),
            (keys::GSI3_SK, "S"),
            (keys::EXPIRY_BUCKET, "S"),
            (keys::EXPIRES_AT, "N"),
        ],
        partition_key: keys::PK,
        sort_key: keys::SK,
        indexes: vec![
            (keys::GSI1, keys::GSI1_PK, keys::GSI1_SK),
            (keys::GSI2, keys::GSI2_PK, keys::GSI2_SK),
            (keys::GSI3, keys::GSI3_PK, keys::GSI3_SK),
            (keys::EXPIRY_INDEX, keys::EXPIRY_BUCKET, keys::EXPIRES_AT),
        ],
        ttl_attribute: keys::EXPIRES_AT,
    }
}

fn key_schema(partition: &str, sort: &str) -> Result<Vec<KeySchemaElement>> {
    [(partition, KeyType::Hash), (sort, KeyType::Range)]
        .into_iter()
        .map(|(name, key_type)| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(key_type)
                .build()
                .map_err(Error::internal)
        })
        .collect()
}

impl Store {
    /// Creates the table from [`table_spec`] and enables TTL, waiting until it is active.
    /// Idempotent: an existing table is left as it is.
    pub async fn create_table(&self) -> Result<()> {
        let spec = table_spec();
        let attributes = spec
            .attributes
            .iter()
            .map(|(name, kind)| {
                AttributeDefinition::builder()
                    .attribute_name(*name)
                    .attribute_type(ScalarAttributeType::from(*kind))
                    .build()
                    .map_err(Error::internal)
            })
            .collect::<Result<Vec<_>>>()?;
        let indexes = spec
            .indexes
            .iter()
            .map(|(name, partition, sort)| {
                GlobalSecondaryIndex::builder()
                    .index_name(*name)
                    .set_key_schema(Some(key_schema(partition, sort)?))
                    .projection(
                        Projection::builder()
                            .projection_type(ProjectionType::All)
                            .build(),
                    )
                    .build()
                    .map_err(Error::internal)
            })
            .collect::<Result<Vec<_>>>()?;
        let created = self
            .client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .set_attribute_definitions(Some(attributes))
            .set_key_schema(Some(key_schema(spec.partition_key, spec.sort_key)?))
            .set_global_secondary_indexes(Some(indexes))
            .send()
            .await;
        match created {
            Ok(_) => {}
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_resource_in_use_exception()) =>
            {
                return Ok(());
            }
            Err(e) => return Err(sdk_error("CreateTable", e)),
        }
        self.wait_until_active().await?;
        self.client
            .update_time_to_live()
            .table_name(&self.table)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .attribute_name(spec.ttl_attribute)
                    .enabled(true)
                    .build()
                    .map_err(Error::internal)?,
            )
            .send()
            .await
            .map_err(|e| sdk_error("UpdateTimeToLive", e))?;
        Ok(())
    }

    /// Deletes the table (tests clean up after themselves with it).
    pub async fn delete_table(&self) -> Result<()> {
        self.client
            .delete_table()
            .table_name(&self.table)
            .send()
            .await
            .map_err(|e| sdk_error("DeleteTable", e))?;
        Ok(())
    }

    async fn wait_until_active(&self) -> Result<()> {
        for _ in 0..100 {
            let described = self
                .client
                .describe_table()
                .table_name(&self.table)
                .send()
                .await
                .map_err(|e| sdk_error("DescribeTable", e))?;
            let status = described.table().and_then(|t| t.table_status());
            if status == Some(&aws_sdk_dynamodb::types::TableStatus::Active) {
                return Ok(());
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        Err(Error::internal("table did not become active"))
    }
}
