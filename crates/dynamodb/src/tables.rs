//! The table operations: CreateTable, DescribeTable, DeleteTable, ListTables, UpdateTable, and
//! the settings kept with a table (time to live, continuous backups, tags).

use serde_json::{json, Map, Value};

use crate::db::{Database, TableName, TableState};
use crate::error::{DynamoError, Result};
use crate::shape::{Fields, Violations};
use crate::table::{
    IndexMeta, IndexProjection, KeyAttribute, KeySchema, ProjectionType, ScalarType, TableMeta, Throughput,
};
use crate::{Context, Names};

const INVALID: &str = "One or more parameter values were invalid: ";
/// The largest capacity DynamoDB accepts.
const MAX_UNITS: i64 = 1_000_000_000_000;

/// `TableName`, required and checked.
pub fn table_name(body: Fields<'_>, ctx: &Context) -> Result<TableName> {
    let name = body.string("TableName")?;
    let mut violations = Violations::default();
    violations.not_null(name.is_some(), "tableName");
    violations.name(name, "tableName");
    violations.check()?;
    Ok(ctx.table(name.unwrap_or_default()))
}

/// A key schema element list as given (names and key types), with its violations.
fn key_elements<'a>(
    list: Option<&'a [Value]>,
    path: &str,
    violations: &mut Violations,
) -> Result<Vec<(&'a str, &'a str)>> {
    let Some(list) = list else {
        violations.not_null(false, path);
        return Ok(Vec::new());
    };
    let mut elements = Vec::new();
    for (i, element) in list.iter().enumerate() {
        let fields = crate::shape::structure(element)?;
        let member = format!("{path}.{}.member", i + 1);
        let (name, key_type) = (fields.string("AttributeName")?, fields.string("KeyType")?);
        violations.not_null(name.is_some(), &format!("{member}.attributeName"));
        violations.not_null(key_type.is_some(), &format!("{member}.keyType"));
        violations.one_of(key_type, &format!("{member}.keyType"), &["HASH", "RANGE"]);
        elements.push((name.unwrap_or_default(), key_type.unwrap_or_default()));
    }
    if list.is_empty() {
        violations.add(Some("[]"), path, "Member must have length greater than or equal to 1");
    }
    if list.len() > 2 {
        violations.add(None, path, "Member must have length less than or equal to 2");
    }
    Ok(elements)
}

/// Turns checked key elements into a schema, with DynamoDB's messages for bad shapes.
fn key_schema(elements: &[(&str, &str)], definitions: &[KeyAttribute]) -> Result<KeySchema> {
    let names: Vec<&str> = elements.iter().map(|e| e.0).collect();
    let defined: Vec<&str> = definitions.iter().map(|d| d.name.as_str()).collect();
    let definition = |name: &str| definitions.iter().find(|d| d.name == name).cloned();
    if names.iter().any(|n| definition(n).is_none()) {
        return Err(DynamoError::validation(format!(
            "{INVALID}Some index key attributes are not defined in AttributeDefinitions. Keys: [{}], AttributeDefinitions: [{}]",
            names.join(", "),
            defined.join(", ")
        )));
    }
    if names.len() == 2 && names[0] == names[1] {
        return Err(DynamoError::validation(
            "Both the Hash Key and the Range Key element in the KeySchema have the same name",
        ));
    }
    if elements[0].1 != "HASH" {
        return Err(DynamoError::validation(
            "Invalid KeySchema: The first KeySchemaElement is not a HASH key type",
        ));
    }
    if elements.get(1).is_some_and(|e| e.1 != "RANGE") {
        return Err(DynamoError::validation(
            "Invalid KeySchema: The second KeySchemaElement is not a RANGE key type",
        ));
    }
    Ok(KeySchema {
        hash: definition(names[0]).unwrap_or_else(|| definitions[0].clone()),
        range: names.get(1).and_then(|n| definition(n)),
    })
}

fn attribute_definitions(body: Fields<'_>, violations: &mut Violations) -> Result<Vec<KeyAttribute>> {
    let Some(list) = body.list("AttributeDefinitions")? else {
        violations.not_null(false, "attributeDefinitions");
        return Ok(Vec::new());
    };
    let mut definitions = Vec::new();
    for (i, element) in list.iter().enumerate() {
        let fields = crate::shape::structure(element)?;
        let member = format!("attributeDefinitions.{}.member", i + 1);
        let (name, kind) = (fields.string("AttributeName")?, fields.string("AttributeType")?);
        violations.not_null(name.is_some(), &format!("{member}.attributeName"));
        violations.not_null(kind.is_some(), &format!("{member}.attributeType"));
        violations.one_of(kind, &format!("{member}.attributeType"), &["B", "N", "S"]);
        if let (Some(name), Some(scalar)) = (name, kind.and_then(ScalarType::parse)) {
            definitions.push(KeyAttribute { name: name.to_owned(), scalar });
        }
    }
    Ok(definitions)
}

fn throughput(
    fields: Option<Fields<'_>>,
    path: &str,
    violations: &mut Violations,
) -> Result<Option<Throughput>> {
    let Some(fields) = fields else { return Ok(None) };
    let read = fields.integer("ReadCapacityUnits")?;
    let write = fields.integer("WriteCapacityUnits")?;
    violations.not_null(write.is_some(), &format!("{path}.writeCapacityUnits"));
    violations.at_least(write, &format!("{path}.writeCapacityUnits"), 1);
    violations.not_null(read.is_some(), &format!("{path}.readCapacityUnits"));
    violations.at_least(read, &format!("{path}.readCapacityUnits"), 1);
    Ok(Some(Throughput { read: read.unwrap_or(0), write: write.unwrap_or(0) }))
}

fn check_units(units: Throughput) -> Result<()> {
    for (value, name) in [(units.read, "ReadCapacityUnits"), (units.write, "WriteCapacityUnits")] {
        if value > MAX_UNITS {
            return Err(DynamoError::validation(format!("Given value {value} for {name} is out of bounds")));
        }
    }
    Ok(())
}

/// A GlobalSecondaryIndex (CreateTable) or a Create action (UpdateTable), as given.
struct IndexRequest<'a> {
    name: &'a str,
    elements: Vec<(&'a str, &'a str)>,
    projection: Option<&'a str>,
    non_key: Option<Vec<&'a str>>,
    throughput: Option<Throughput>,
}

fn index_request<'a>(
    fields: Fields<'a>,
    path: &str,
    violations: &mut Violations,
) -> Result<IndexRequest<'a>> {
    let name = fields.string("IndexName")?;
    violations.not_null(name.is_some(), &format!("{path}.indexName"));
    violations.name(name, &format!("{path}.indexName"));
    let elements = key_elements(fields.list("KeySchema")?, &format!("{path}.keySchema"), violations)?;
    let projection = fields.structure("Projection")?;
    violations.not_null(projection.is_some(), &format!("{path}.projection"));
    let (kind, non_key) = match projection {
        Some(p) => (p.string("ProjectionType")?, p.strings("NonKeyAttributes")?),
        None => (None, None),
    };
    violations.one_of(kind, &format!("{path}.projection.projectionType"), &["ALL", "INCLUDE", "KEYS_ONLY"]);
    let throughput = throughput(
        fields.structure("ProvisionedThroughput")?,
        &format!("{path}.provisionedThroughput"),
        violations,
    )?;
    Ok(IndexRequest { name: name.unwrap_or_default(), elements, projection: kind, non_key, throughput })
}

/// Checks an index request against the definitions and makes its description.
fn make_index(
    request: &IndexRequest<'_>,
    definitions: &[KeyAttribute],
    on_demand: bool,
    id: u32,
    creating_until_ms: i64,
) -> Result<IndexMeta> {
    let key = key_schema(&request.elements, definitions)?;
    let kind = match request.projection {
        Some("ALL") => ProjectionType::All,
        Some("KEYS_ONLY") => ProjectionType::KeysOnly,
        Some("INCLUDE") => ProjectionType::Include,
        _ => return Err(DynamoError::validation(format!("{INVALID}Unknown ProjectionType: null"))),
    };
    if request.non_key.is_some() && kind != ProjectionType::Include {
        return Err(DynamoError::validation(format!(
            "{INVALID}ProjectionType is {}, but NonKeyAttributes is specified",
            kind.name()
        )));
    }
    if on_demand && request.throughput.is_some() {
        return Err(DynamoError::validation(format!(
            "{INVALID}ProvisionedThroughput should not be specified for index: {} when BillingMode is PAY_PER_REQUEST",
            request.name
        )));
    }
    if !on_demand && request.throughput.is_none() {
        return Err(DynamoError::validation(format!(
            "{INVALID}ProvisionedThroughput is not specified for index: {}",
            request.name
        )));
    }
    let throughput = request.throughput.unwrap_or_default();
    check_units(throughput)?;
    Ok(IndexMeta {
        name: request.name.to_owned(),
        id,
        key,
        projection: IndexProjection {
            kind,
            non_key: request.non_key.iter().flatten().map(|s| (*s).to_owned()).collect(),
        },
        throughput,
        creating_until_ms,
    })
}

/// A random UUID (version 4), for `TableId`.
fn uuid() -> String {
    let bytes: [u8; 16] = rand::random();
    let hex: String = bytes
        .iter()
        .enumerate()
        .map(|(i, b)| match i {
            6 => format!("{:02x}", (b & 0x0f) | 0x40),
            8 => format!("{:02x}", (b & 0x3f) | 0x80),
            _ => format!("{b:02x}"),
        })
        .collect();
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

pub fn create_table(db: &Database, ctx: &Context, body: Fields<'_>) -> Result<Value> {
    let mut violations = Violations::default();
    let definitions = attribute_definitions(body, &mut violations)?;
    let name = body.string("TableName")?;
    violations.not_null(name.is_some(), "tableName");
    violations.name(name, "tableName");
    let billing = body.string("BillingMode")?;
    violations.one_of(billing, "billingMode", &["PROVISIONED", "PAY_PER_REQUEST"]);
    let units =
        throughput(body.structure("ProvisionedThroughput")?, "provisionedThroughput", &mut violations)?;
    let elements = key_elements(body.list("KeySchema")?, "keySchema", &mut violations)?;
    let mut indexes = Vec::new();
    for (i, index) in body.list("GlobalSecondaryIndexes")?.unwrap_or_default().iter().enumerate() {
        let fields = crate::shape::structure(index)?;
        indexes.push(index_request(
            fields,
            &format!("globalSecondaryIndexes.{}.member", i + 1),
            &mut violations,
        )?);
    }
    let deletion_protection = body.boolean("DeletionProtectionEnabled")?.unwrap_or(false);
    let tags = tag_list(body.list("Tags")?)?;
    violations.check()?;

    let on_demand = billing == Some("PAY_PER_REQUEST");
    if on_demand && units.is_some() {
        return Err(DynamoError::validation(format!(
            "{INVALID}Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST"
        )));
    }
    if !on_demand && units.is_none() {
        return Err(DynamoError::validation(format!(
            "{INVALID}ReadCapacityUnits and WriteCapacityUnits must both be specified when BillingMode is PROVISIONED"
        )));
    }
    let units = units.unwrap_or_default();
    check_units(units)?;
    if elements.len() > definitions.len() {
        return Err(DynamoError::validation(
            "Invalid KeySchema: Some index key attribute have no definition",
        ));
    }
    let key = key_schema(&elements, &definitions)?;
    if body.has("LocalSecondaryIndexes") {
        return Err(DynamoError::validation(
            "kinesin does not serve LocalSecondaryIndexes (docs/dynamodb.md, \"What is served\")",
        ));
    }
    if body.list("GlobalSecondaryIndexes")?.is_some_and(|l| l.is_empty()) {
        return Err(DynamoError::validation(format!("{INVALID}List of GlobalSecondaryIndexes is empty")));
    }
    let now = db.now_ms();
    let creating_until_ms = now + db.settings.create_table_ms;
    let mut metas: Vec<IndexMeta> = Vec::new();
    for (i, request) in indexes.iter().enumerate() {
        if metas.iter().any(|m| m.name == request.name) {
            return Err(DynamoError::validation(format!("{INVALID}Duplicate index name: {}", request.name)));
        }
        metas.push(make_index(request, &definitions, on_demand, i as u32 + 1, creating_until_ms)?);
    }
    if metas.len() > 20 {
        return Err(DynamoError::validation(format!(
            "{INVALID}GlobalSecondaryIndex count exceeds the per-table limit of 20"
        )));
    }
    check_definitions_used(&definitions, &key, &metas)?;

    let name = ctx.table(name.unwrap_or_default());
    let _writer = db.writer();
    if db.table(&name).is_some() {
        return Err(DynamoError::in_use(format!("Table already exists: {}", name.name)));
    }
    let next_index_id = metas.len() as u32 + 1;
    let meta = TableMeta {
        id: db.next_table_id(),
        account: name.account.clone(),
        region: name.region.clone(),
        name: name.name.clone(),
        uuid: uuid(),
        key,
        attributes: definitions,
        on_demand,
        throughput: units,
        indexes: metas,
        next_index_id,
        created_ms: now,
        creating_until_ms,
        updating_until_ms: 0,
        deletion_protection,
        tags,
        ttl: None,
        point_in_time_recovery: false,
    };
    db.put_table(meta, Vec::new())?;
    let state = db.table(&name).ok_or_else(DynamoError::not_found)?;
    // The answer says CREATING even when the table is ACTIVE at once (`--create-table-ms 0`),
    // as DynamoDB's always does; the next DescribeTable tells the truth.
    let mut description = describe(db, &state, now, &[])?;
    description["TableStatus"] = json!("CREATING");
    if let Some(indexes) = description["GlobalSecondaryIndexes"].as_array_mut() {
        for index in indexes {
            index["IndexStatus"] = json!("CREATING");
        }
    }
    Ok(json!({ "TableDescription": description }))
}

/// Every attribute definition must be a key of the table or of an index.
fn check_definitions_used(
    definitions: &[KeyAttribute],
    key: &KeySchema,
    indexes: &[IndexMeta],
) -> Result<()> {
    let used = |name: &str| key.contains(name) || indexes.iter().any(|i| i.key.contains(name));
    if definitions.iter().any(|d| !used(&d.name)) {
        let message = if indexes.is_empty() {
            format!("{INVALID}Number of attributes in KeySchema does not exactly match number of attributes defined in AttributeDefinitions")
        } else {
            format!("{INVALID}Some AttributeDefinitions are not used. AttributeDefinitions: [{}], keys used: [{}]",
                definitions.iter().map(|d| d.name.as_str()).collect::<Vec<_>>().join(", "),
                key.attributes().chain(indexes.iter().flat_map(|i| i.key.attributes())).map(|a| a.name.as_str()).collect::<Vec<_>>().join(", "))
        };
        return Err(DynamoError::validation(message));
    }
    Ok(())
}

fn tag_list(list: Option<&[Value]>) -> Result<Vec<(String, String)>> {
    let mut tags = Vec::new();
    for tag in list.unwrap_or_default() {
        let fields = crate::shape::structure(tag)?;
        let key = fields.string("Key")?;
        let value = fields.string("Value")?;
        let mut violations = Violations::default();
        violations.not_null(key.is_some(), "tags.member.key");
        violations.not_null(value.is_some(), "tags.member.value");
        violations.check()?;
        tags.push((key.unwrap_or_default().to_owned(), value.unwrap_or_default().to_owned()));
    }
    Ok(tags)
}

fn key_schema_json(key: &KeySchema) -> Value {
    let mut elements = vec![json!({"AttributeName": key.hash.name, "KeyType": "HASH"})];
    if let Some(range) = &key.range {
        elements.push(json!({"AttributeName": range.name, "KeyType": "RANGE"}));
    }
    Value::Array(elements)
}

fn throughput_json(units: Throughput) -> Value {
    json!({"NumberOfDecreasesToday": 0, "ReadCapacityUnits": units.read, "WriteCapacityUnits": units.write})
}

/// Entries of one index: how many, and the bytes of the items as the index projects them.
fn index_stats(db: &Database, meta: &TableMeta, index: &IndexMeta) -> Result<(u64, u64)> {
    let (mut count, mut bytes) = (0u64, 0u64);
    db.scan_space(meta.id, index.id, &[], None, false, &mut |_, table_key| {
        count += 1;
        if let Some(item) = db.get_item(meta.id, table_key)? {
            bytes += crate::codec::item_size(&index.project(&meta.key, &item)) as u64;
        }
        Ok(true)
    })?;
    Ok((count, bytes))
}

/// A TableDescription. `deleting` lists indexes being deleted by the call being answered.
pub fn describe(db: &Database, state: &TableState, now_ms: i64, deleting: &[IndexMeta]) -> Result<Value> {
    let meta = &state.meta;
    let mut table = Map::new();
    table.insert(
        "AttributeDefinitions".into(),
        meta.attributes
            .iter()
            .map(|a| json!({"AttributeName": a.name, "AttributeType": a.scalar.name()}))
            .collect(),
    );
    table.insert("TableName".into(), json!(meta.name));
    table.insert("KeySchema".into(), key_schema_json(&meta.key));
    let status = if deleting.is_empty() { meta.status(now_ms) } else { "UPDATING" };
    table.insert("TableStatus".into(), json!(status));
    table.insert("CreationDateTime".into(), json!(meta.created_ms as f64 / 1000.0));
    table.insert("ProvisionedThroughput".into(), throughput_json(meta.throughput));
    table.insert("TableSizeBytes".into(), json!(state.size_bytes));
    table.insert("ItemCount".into(), json!(state.item_count));
    table.insert("TableArn".into(), json!(meta.arn()));
    table.insert("TableId".into(), json!(meta.uuid));
    let mode = if meta.on_demand { "PAY_PER_REQUEST" } else { "PROVISIONED" };
    let mut billing = json!({"BillingMode": mode});
    if meta.on_demand {
        billing["LastUpdateToPayPerRequestDateTime"] = json!(meta.created_ms as f64 / 1000.0);
    }
    table.insert("BillingModeSummary".into(), billing);
    let mut indexes = Vec::new();
    for index in meta.indexes.iter().chain(deleting) {
        let is_deleting = deleting.iter().any(|d| d.id == index.id);
        let (count, bytes) = if is_deleting { (0, 0) } else { index_stats(db, meta, index)? };
        let status = match () {
            _ if is_deleting => "DELETING",
            _ if now_ms < index.creating_until_ms => "CREATING",
            _ => "ACTIVE",
        };
        let mut projection = json!({"ProjectionType": index.projection.kind.name()});
        if index.projection.kind == ProjectionType::Include {
            projection["NonKeyAttributes"] = json!(index.projection.non_key);
        }
        let mut description = json!({
            "IndexName": index.name,
            "KeySchema": key_schema_json(&index.key),
            "Projection": projection,
            "IndexStatus": status,
            "ProvisionedThroughput": throughput_json(index.throughput),
            "IndexSizeBytes": bytes,
            "ItemCount": count,
            "IndexArn": format!("{}/index/{}", meta.arn(), index.name),
        });
        if status == "CREATING" {
            description["Backfilling"] = json!(false);
        }
        indexes.push(description);
    }
    if !indexes.is_empty() {
        table.insert("GlobalSecondaryIndexes".into(), Value::Array(indexes));
    }
    table.insert("DeletionProtectionEnabled".into(), json!(meta.deletion_protection));
    Ok(Value::Object(table))
}

fn table_not_found(name: &TableName) -> DynamoError {
    DynamoError::resource_not_found(format!("Requested resource not found: Table: {} not found", name.name))
}

pub fn describe_table(db: &Database, ctx: &Context, body: Fields<'_>) -> Result<Value> {
    let name = table_name(body, ctx)?;
    let state = db.table(&name).ok_or_else(|| table_not_found(&name))?;
    Ok(json!({ "Table": describe(db, &state, db.now_ms(), &[])? }))
}

pub fn delete_table(db: &Database, ctx: &Context, body: Fields<'_>) -> Result<Value> {
    let name = table_name(body, ctx)?;
    let _writer = db.writer();
    let state = db.table(&name).ok_or_else(DynamoError::not_found)?;
    let now = db.now_ms();
    match state.meta.status(now) {
        "CREATING" => {
            return Err(DynamoError::in_use(format!(
                "Attempt to change a resource which is still in use: Table is being created: {}",
                name.name
            )))
        }
        "UPDATING" => {
            return Err(DynamoError::in_use(format!(
                "Attempt to change a resource which is still in use: Table is being updated: {}",
                name.name
            )))
        }
        _ => {}
    }
    if state.meta.deletion_protection {
        return Err(DynamoError::validation(
            "Resource cannot be deleted as it is currently protected against deletion. Disable deletion protection first.",
        ));
    }
    let mut description = describe(db, &state, now, &[])?;
    description["TableStatus"] = json!("DELETING");
    db.delete_table(&name)?;
    Ok(json!({ "TableDescription": description }))
}

pub fn list_tables(db: &Database, ctx: &Context, body: Fields<'_>) -> Result<Value> {
    let start = body.string("ExclusiveStartTableName")?;
    let limit = body.integer("Limit")?;
    let mut violations = Violations::default();
    violations.name(start, "exclusiveStartTableName");
    violations.at_least(limit, "limit", 1);
    violations.at_most(limit, "limit", 100);
    violations.check()?;
    let limit = limit.unwrap_or(100) as usize;
    let names: Vec<String> = db
        .table_names(&ctx.account, &ctx.region)
        .into_iter()
        .filter(|n| start.is_none_or(|s| n.as_str() > s))
        .collect();
    let mut answer = json!({ "TableNames": names.iter().take(limit).collect::<Vec<_>>() });
    if names.len() > limit {
        answer["LastEvaluatedTableName"] = json!(names[limit - 1]);
    }
    Ok(answer)
}

pub fn update_table(db: &Database, ctx: &Context, body: Fields<'_>) -> Result<Value> {
    let name = table_name(body, ctx)?;
    let mut violations = Violations::default();
    let new_definitions = match body.list("AttributeDefinitions")? {
        Some(_) => attribute_definitions(body, &mut violations)?,
        None => Vec::new(),
    };
    let billing = body.string("BillingMode")?;
    violations.one_of(billing, "billingMode", &["PROVISIONED", "PAY_PER_REQUEST"]);
    let units =
        throughput(body.structure("ProvisionedThroughput")?, "provisionedThroughput", &mut violations)?;
    let updates = body.list("GlobalSecondaryIndexUpdates")?.unwrap_or_default();
    let mut creates = Vec::new();
    let mut deletes = Vec::new();
    for (i, update) in updates.iter().enumerate() {
        let update = crate::shape::structure(update)?;
        let path = format!("globalSecondaryIndexUpdates.{}.member", i + 1);
        if let Some(create) = update.structure("Create")? {
            creates.push(index_request(create, &format!("{path}.create"), &mut violations)?);
        }
        if let Some(delete) = update.structure("Delete")? {
            let index = delete.string("IndexName")?;
            violations.not_null(index.is_some(), &format!("{path}.delete.indexName"));
            violations.name(index, &format!("{path}.delete.indexName"));
            deletes.push(index.unwrap_or_default());
        }
        if !update.has("Create") && !update.has("Delete") && !update.has("Update") {
            violations.check()?;
            return Err(DynamoError::validation(format!("{INVALID}One of GlobalSecondaryIndexUpdate.Update, GlobalSecondaryIndexUpdate.Create, GlobalSecondaryIndexUpdate.Delete must not be null")));
        }
    }
    let deletion_protection = body.boolean("DeletionProtectionEnabled")?;
    violations.check()?;
    if units.is_none()
        && billing.is_none()
        && updates.is_empty()
        && deletion_protection.is_none()
        && !body.has("StreamSpecification")
        && !body.has("SSESpecification")
    {
        return Err(DynamoError::validation(
            "At least one of ProvisionedThroughput, BillingMode, UpdateStreamEnabled, GlobalSecondaryIndexUpdates or SSESpecification or ReplicaUpdates is required",
        ));
    }
    if let Some(units) = units {
        check_units(units)?;
    }
    let mut names: Vec<&str> = creates.iter().map(|c| c.name).chain(deletes.iter().copied()).collect();
    names.sort_unstable();
    if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
        return Err(DynamoError::validation(format!(
            "{INVALID}Only one global secondary index update per index is allowed simultaneously. Index: {}",
            w[0]
        )));
    }
    if creates.len() + deletes.len() > 1 {
        return Err(DynamoError::limit_exceeded(
            "Subscriber limit exceeded: Only 1 online index can be created or deleted simultaneously per table",
        ));
    }

    let _writer = db.writer();
    let state = db.table(&name).ok_or_else(DynamoError::not_found)?;
    let now = db.now_ms();
    match state.meta.status(now) {
        "ACTIVE" => {}
        "CREATING" => {
            return Err(DynamoError::in_use(format!(
                "Attempt to change a resource which is still in use: Table is being created: {}",
                name.name
            )))
        }
        _ => {
            return Err(DynamoError::in_use(format!(
                "Attempt to change a resource which is still in use: Table is being updated: {}",
                name.name
            )))
        }
    }
    let mut meta = state.meta.clone();
    if let Some(mode) = billing {
        meta.on_demand = mode == "PAY_PER_REQUEST";
        if meta.on_demand {
            meta.throughput = Throughput::default();
        }
    }
    if let Some(units) = units {
        if meta.on_demand {
            return Err(DynamoError::validation(format!(
                "{INVALID}Neither ReadCapacityUnits nor WriteCapacityUnits can be specified when BillingMode is PAY_PER_REQUEST"
            )));
        }
        meta.throughput = units;
    }
    if let Some(protection) = deletion_protection {
        meta.deletion_protection = protection;
    }
    for definition in new_definitions {
        match meta.attribute(&definition.name) {
            Some(existing) if existing != definition.scalar => {
                return Err(DynamoError::validation(format!(
                    "{INVALID}Cannot change the type of attribute {} (it is {}): AttributeDefinitions of existing keys cannot change",
                    definition.name,
                    existing.name()
                )))
            }
            Some(_) => {}
            None => meta.attributes.push(definition),
        }
    }
    let mut extra = Vec::new();
    let mut deleting = Vec::new();
    for delete in deletes {
        let Some(position) = meta.indexes.iter().position(|i| i.name == delete) else {
            return Err(DynamoError::resource_not_found(format!(
                "Requested resource not found: Index: {delete} not found"
            )));
        };
        let index = meta.indexes.remove(position);
        extra.push(crate::storage::Write::DeletePrefix(crate::layout::space_prefix(meta.id, index.id)));
        deleting.push(index);
    }
    let changes_indexes = !creates.is_empty() || !deleting.is_empty();
    for create in &creates {
        if meta.index(create.name).is_some() {
            return Err(DynamoError::validation(format!("{INVALID}Index already exists: {}", create.name)));
        }
        let index = make_index(
            create,
            &meta.attributes,
            meta.on_demand,
            meta.next_index_id,
            now + db.settings.update_table_ms,
        )?;
        meta.next_index_id += 1;
        meta.indexes.push(index);
        extra.extend(db.index_entries(&meta, meta.next_index_id - 1)?);
    }
    if meta.indexes.len() > 20 {
        return Err(DynamoError::validation(format!(
            "{INVALID}GlobalSecondaryIndex count exceeds the per-table limit of 20"
        )));
    }
    meta.updating_until_ms = now + db.settings.update_table_ms;
    db.put_table(meta, extra)?;
    let state = db.table(&name).ok_or_else(DynamoError::not_found)?;
    let mut description = describe(db, &state, now, &deleting)?;
    if changes_indexes || units.is_some() || billing.is_some() {
        description["TableStatus"] = json!("UPDATING");
        if let Some(indexes) = description["GlobalSecondaryIndexes"].as_array_mut() {
            for index in indexes {
                if creates.iter().any(|c| index["IndexName"] == c.name) {
                    index["IndexStatus"] = json!("CREATING");
                    index["Backfilling"] = json!(false);
                }
            }
        }
    }
    Ok(json!({ "TableDescription": description }))
}

/// The table an ARN names: `arn:aws:dynamodb:<region>:<account>:table/<name>`.
fn table_of_arn(db: &Database, ctx: &Context, arn: &str) -> Result<TableState> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let invalid =
        || DynamoError::validation(format!("Invalid TableArn: Invalid ResourceArn provided as input {arn}"));
    if parts.len() != 6 || parts[0] != "arn" || parts[2] != "dynamodb" {
        return Err(invalid());
    }
    let name = parts[5].strip_prefix("table/").filter(|n| !n.contains('/')).ok_or_else(invalid)?;
    let table =
        TableName { account: parts[4].to_owned(), region: parts[3].to_owned(), name: name.to_owned() };
    if table.account != ctx.account || table.region != ctx.region {
        return Err(DynamoError::resource_not_found(format!(
            "Requested resource not found: ResourcArn: {arn} not found"
        )));
    }
    db.table(&table).ok_or_else(|| {
        DynamoError::resource_not_found(format!("Requested resource not found: ResourcArn: {arn} not found"))
    })
}

fn resource_arn<'a>(body: Fields<'a>) -> Result<&'a str> {
    let arn = body.string("ResourceArn")?;
    let mut violations = Violations::default();
    violations.not_null(arn.is_some(), "resourceArn");
    if arn.is_some_and(|a| a.is_empty()) {
        violations.add(Some(""), "resourceArn", "Member must have length greater than or equal to 1");
    }
    violations.check()?;
    Ok(arn.unwrap_or_default())
}

/// Changes a stored table's settings under the writer.
fn change_table(
    db: &Database,
    name: &TableName,
    change: impl FnOnce(&mut TableMeta) -> Result<()>,
) -> Result<TableMeta> {
    let _writer = db.writer();
    let mut meta = db.table(name).ok_or_else(DynamoError::not_found)?.meta;
    change(&mut meta)?;
    db.put_table(meta.clone(), Vec::new())?;
    Ok(meta)
}

fn name_of(meta: &TableMeta) -> TableName {
    TableName { account: meta.account.clone(), region: meta.region.clone(), name: meta.name.clone() }
}

pub fn tag_resource(db: &Database, ctx: &Context, body: Fields<'_>) -> Result<Value> {
    let arn = resource_arn(body)?;
    let tags = tag_list(body.list("Tags")?)?;
    let mut violations = Violations::default();
    violations.not_null(body.has("Tags"), "tags");
    violations.check()?;
    let table = table_of_arn(db, ctx, arn)?;
    change_table(db, &name_of(&table.meta), |meta| {
        for (key, value) in tags {
            match meta.tags.iter_mut().find(|t| t.0 == key) {
                Some(existing) => existing.1 = value,
                None => meta.tags.push((key, value)),
            }
        }
        Ok(())
    })?;
    Ok(json!({}))
}

pub fn untag_resource(db: &Database, ctx: &Context, body: Fields<'_>) -> Result<Value> {
    let arn = resource_arn(body)?;
    let keys = body.strings("TagKeys")?;
    let mut violations = Violations::default();
    violations.not_null(keys.is_some(), "tagKeys");
    violations.check()?;
    let keys = keys.unwrap_or_default();
    let table = table_of_arn(db, ctx, arn)?;
    change_table(db, &name_of(&table.meta), |meta| {
        meta.tags.retain(|t| !keys.contains(&t.0.as_str()));
        Ok(())
    })?;
    Ok(json!({}))
}

pub fn list_tags_of_resource(db: &Database, ctx: &Context, body: Fields<'_>) -> Result<Value> {
    let arn = resource_arn(body)?;
    let table = table_of_arn(db, ctx, arn)?;
    let tags: Vec<Value> = table.meta.tags.iter().map(|(k, v)| json!({"Key": k, "Value": v})).collect();
    Ok(json!({ "Tags": tags }))
}

fn ttl_description(meta: &TableMeta) -> Value {
    match &meta.ttl {
        Some(ttl) if ttl.enabled => json!({"TimeToLiveStatus": "ENABLED", "AttributeName": ttl.attribute}),
        _ => json!({"TimeToLiveStatus": "DISABLED"}),
    }
}

pub fn describe_time_to_live(db: &Database, ctx: &Context, body: Fields<'_>) -> Result<Value> {
    let name = table_name(body, ctx)?;
    let state = db.table(&name).ok_or_else(|| table_not_found(&name))?;
    Ok(json!({ "TimeToLiveDescription": ttl_description(&state.meta) }))
}

pub fn update_time_to_live(db: &Database, ctx: &Context, body: Fields<'_>) -> Result<Value> {
    let name = table_name(body, ctx)?;
    let spec = body.structure("TimeToLiveSpecification")?;
    let (attribute, enabled) = match spec {
        Some(spec) => (spec.string("AttributeName")?, spec.boolean("Enabled")?),
        None => (None, None),
    };
    let mut violations = Violations::default();
    violations.not_null(spec.is_some(), "timeToLiveSpecification");
    if spec.is_some() {
        violations.not_null(attribute.is_some(), "timeToLiveSpecification.attributeName");
        violations.not_null(enabled.is_some(), "timeToLiveSpecification.enabled");
    }
    violations.check()?;
    let (attribute, enabled) = (attribute.unwrap_or_default().to_owned(), enabled.unwrap_or(false));
    change_table(db, &name, |meta| {
        let current = meta.ttl.as_ref().filter(|t| t.enabled);
        match (current, enabled) {
            (Some(_), true) => return Err(DynamoError::validation("TimeToLive is already enabled")),
            (None, false) => return Err(DynamoError::validation("TimeToLive is already disabled")),
            _ => {}
        }
        meta.ttl = Some(crate::table::TimeToLive { attribute: attribute.clone(), enabled });
        Ok(())
    })?;
    Ok(json!({ "TimeToLiveSpecification": {"AttributeName": attribute, "Enabled": enabled} }))
}

fn backups_description(meta: &TableMeta) -> Value {
    let pitr = if meta.point_in_time_recovery { "ENABLED" } else { "DISABLED" };
    json!({
        "ContinuousBackupsStatus": "ENABLED",
        "PointInTimeRecoveryDescription": {"PointInTimeRecoveryStatus": pitr}
    })
}

pub fn describe_continuous_backups(db: &Database, ctx: &Context, body: Fields<'_>) -> Result<Value> {
    let name = table_name(body, ctx)?;
    let state = db.table(&name).ok_or_else(|| DynamoError::table_not_found(&name.name))?;
    Ok(json!({ "ContinuousBackupsDescription": backups_description(&state.meta) }))
}

pub fn update_continuous_backups(db: &Database, ctx: &Context, body: Fields<'_>) -> Result<Value> {
    let name = table_name(body, ctx)?;
    let spec = body.structure("PointInTimeRecoverySpecification")?;
    let enabled = match spec {
        Some(spec) => spec.boolean("PointInTimeRecoveryEnabled")?,
        None => None,
    };
    let mut violations = Violations::default();
    violations.not_null(spec.is_some(), "pointInTimeRecoverySpecification");
    if spec.is_some() {
        violations.not_null(enabled.is_some(), "pointInTimeRecoverySpecification.pointInTimeRecoveryEnabled");
    }
    violations.check()?;
    if db.table(&name).is_none() {
        return Err(DynamoError::table_not_found(&name.name));
    }
    let meta = change_table(db, &name, |meta| {
        meta.point_in_time_recovery = enabled.unwrap_or(false);
        Ok(())
    })?;
    Ok(json!({ "ContinuousBackupsDescription": backups_description(&meta) }))
}
