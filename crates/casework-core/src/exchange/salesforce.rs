//! A Salesforce Data Export: `Case.csv`, `CaseComment.csv` and `EmailMessage.csv` with their
//! standard columns, and a small mapping file (TOML) for what is particular to an org: its
//! `__c` fields, its statuses, its users.
//!
//! ```toml
//! [fields]            # a custom column = a case field (product, product_version,
//! Product__c = "product"  #  product_area, functionality, issue)
//! Version__c = "product_version"
//!
//! [statuses]          # a Salesforce status = a status of the workflow file
//! "Waiting on Customer" = "Pending Customer"
//!
//! [owners]            # a Salesforce user id = a Casework person's name
//! "0055e000001AbCd" = "Ana Lopez"
//! ```
//!
//! A case becomes the case of its `CaseNumber`, opened at `CreatedDate` for its supplied
//! (else contact) name and email; subject, description, origin, priority and the mapped
//! fields carried; its owner when mapped; its comments (customer-visible when published)
//! and emails (inbound ones as received email from the customer when the customer sent
//! them, outbound ones as customer-visible posts) at their own times; then its status: a
//! closed case is closed as resolved at `ClosedDate`, another moves to its mapped (or
//! same-named) status. Columns not carried are named in the report's unmapped fields.

use std::collections::{BTreeMap, HashMap};

use jiff::Timestamp;
use serde::Deserialize;

use super::{Importer, append, one_line};
use crate::config::WorkflowConfig;
use crate::event::{Event, EventKind};
use crate::ids::{CaseNumber, EmailAddress};
use crate::model::{
    CloseMode, Customer, Field, Origin, PostKind, Priority, StatusCategory, ThreadRule, Visibility,
};
use crate::ports::StoreError;

/// What is particular to one org: its `__c` columns, statuses and users.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    /// A column = a case field.
    #[serde(default)]
    pub fields: BTreeMap<String, Field>,
    /// A Salesforce status = a workflow status.
    #[serde(default)]
    pub statuses: BTreeMap<String, String>,
    /// A Salesforce user id = a person's name.
    #[serde(default)]
    pub owners: BTreeMap<String, String>,
}

impl Mapping {
    /// Reads a mapping file; the error names what is wrong.
    pub fn parse(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }
}

/// One CSV file as read: its header and its rows.
#[derive(Debug, Clone, Default)]
pub struct Table {
    /// The file's name, for the report.
    pub name: String,
    /// Column names.
    pub headers: Vec<String>,
    /// Rows, each with a value per column, and the line it started on.
    pub rows: Vec<(u64, Vec<String>)>,
}

impl Table {
    fn column(&self, name: &str) -> Option<usize> {
        self.headers.iter().position(|h| h == name)
    }
}

/// A row's values by column name.
struct Row<'a> {
    table: &'a Table,
    values: &'a [String],
}

impl<'a> Row<'a> {
    fn get(&self, column: &str) -> Option<&'a str> {
        self.table
            .column(column)
            .and_then(|i| self.values.get(i))
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }

    fn time(&self, column: &str) -> Result<Option<Timestamp>, String> {
        match self.get(column) {
            None => Ok(None),
            Some(v) => v
                .parse::<Timestamp>()
                .map(Some)
                .map_err(|e| format!("{column}: {v:?} is not a date and time: {e}")),
        }
    }

    fn flag(&self, column: &str) -> bool {
        matches!(
            self.get(column),
            Some("1") | Some("true") | Some("TRUE") | Some("True")
        )
    }
}

const CASE_COLUMNS: &[&str] = &[
    "Id",
    "CaseNumber",
    "Subject",
    "Description",
    "Status",
    "Priority",
    "Origin",
    "SuppliedName",
    "SuppliedEmail",
    "SuppliedPhone",
    "SuppliedCompany",
    "ContactEmail",
    "ContactPhone",
    "IsClosed",
    "ClosedDate",
    "OwnerId",
    "CreatedDate",
    "CreatedById",
    "IsDeleted",
    "LastModifiedDate",
    "LastModifiedById",
    "SystemModstamp",
    "LastViewedDate",
    "LastReferencedDate",
];
const COMMENT_COLUMNS: &[&str] = &[
    "Id",
    "ParentId",
    "IsPublished",
    "CommentBody",
    "CreatedById",
    "CreatedDate",
    "IsDeleted",
    "LastModifiedDate",
    "LastModifiedById",
    "SystemModstamp",
];
const EMAIL_COLUMNS: &[&str] = &[
    "Id",
    "ParentId",
    "TextBody",
    "HtmlBody",
    "Subject",
    "FromName",
    "FromAddress",
    "ToAddress",
    "Incoming",
    "MessageDate",
    "CreatedDate",
    "CreatedById",
    "MessageIdentifier",
    "IsDeleted",
    "LastModifiedDate",
    "LastModifiedById",
    "SystemModstamp",
];

fn note_unmapped(importer: &mut Importer<'_>, table: &Table, known: &[&str], mapping: &Mapping) {
    let file = table
        .name
        .rsplit('/')
        .next()
        .unwrap_or(&table.name)
        .to_string();
    for h in &table.headers {
        let used = known.contains(&h.as_str())
            || (known == CASE_COLUMNS && mapping.fields.contains_key(h));
        let filled = table.column(h).is_some_and(|i| {
            table
                .rows
                .iter()
                .any(|(_, r)| r.get(i).is_some_and(|v| !v.trim().is_empty()))
        });
        if !used && filled {
            importer.unmapped(&format!("{file}.{h}"));
        }
    }
}

/// One entry of a case's timeline before it is numbered.
struct Entry {
    at: Timestamp,
    actor: String,
    kind: EventKind,
}

/// Imports a Data Export: `cases` (Case.csv), with `comments` (CaseComment.csv) and
/// `emails` (EmailMessage.csv) put on their cases by `ParentId`.
pub async fn import(
    importer: &mut Importer<'_>,
    cases: &Table,
    comments: &Table,
    emails: &Table,
    mapping: &Mapping,
) -> Result<(), StoreError> {
    note_unmapped(importer, cases, CASE_COLUMNS, mapping);
    note_unmapped(importer, comments, COMMENT_COLUMNS, mapping);
    note_unmapped(importer, emails, EMAIL_COLUMNS, mapping);
    let mut timeline: HashMap<String, Vec<Entry>> = HashMap::new();
    for (table, is_email) in [(comments, false), (emails, true)] {
        for (line, values) in &table.rows {
            importer.read(1);
            let row = Row { table, values };
            let at = format!("{}:{line}", table.name);
            if row.flag("IsDeleted") {
                continue;
            }
            let Some(parent) = row.get("ParentId") else {
                importer.refuse(at, "ParentId is empty");
                continue;
            };
            let entry = if is_email { email(&row) } else { comment(&row) };
            match entry {
                Ok(e) => timeline.entry(parent.to_string()).or_default().push(e),
                Err(why) => importer.refuse(at, why),
            }
        }
    }
    for (line, values) in &cases.rows {
        importer.read(1);
        let row = Row {
            table: cases,
            values,
        };
        let at = format!("{}:{line}", cases.name);
        if row.flag("IsDeleted") {
            continue;
        }
        let entries = row
            .get("Id")
            .and_then(|id| timeline.remove(id))
            .unwrap_or_default();
        importer
            .add_history(at, history(&row, entries, mapping, importer.workflow()))
            .await?;
    }
    let mut orphans: Vec<_> = timeline.keys().cloned().collect();
    orphans.sort();
    for parent in orphans {
        importer.refuse(
            format!("case {parent}"),
            "comments or emails name a case that is not in Case.csv",
        );
    }
    Ok(())
}

fn who(row: &Row<'_>) -> String {
    row.get("CreatedById")
        .map(|id| format!("salesforce user {id}"))
        .unwrap_or_else(|| "salesforce".into())
}

fn comment(row: &Row<'_>) -> Result<Entry, String> {
    let at = row.time("CreatedDate")?.ok_or("CreatedDate is empty")?;
    Ok(Entry {
        at,
        actor: who(row),
        kind: EventKind::PostAdded {
            kind: PostKind::Note,
            body: row.get("CommentBody").unwrap_or("").to_string(),
            visibility: if row.flag("IsPublished") {
                Visibility::Customer
            } else {
                Visibility::Internal
            },
            from_customer: false,
        },
    })
}

fn email(row: &Row<'_>) -> Result<Entry, String> {
    let at = match row.time("MessageDate")? {
        Some(t) => t,
        None => row
            .time("CreatedDate")?
            .ok_or("MessageDate and CreatedDate are empty")?,
    };
    let subject = row.get("Subject").map(one_line).unwrap_or_default();
    let body = row.get("TextBody").unwrap_or("").to_string();
    if row.flag("Incoming") {
        let from: EmailAddress = row
            .get("FromAddress")
            .ok_or("FromAddress is empty")?
            .parse()
            .map_err(|e: crate::ids::ParseError| format!("FromAddress: {}", e.reason))?;
        let id = row.get("Id").ok_or("Id is empty")?;
        Ok(Entry {
            at,
            actor: from.to_string(),
            kind: EventKind::EmailReceived {
                message_id: row
                    .get("MessageIdentifier")
                    .map(|m| m.trim_matches(['<', '>']).to_string()),
                key: format!("salesforce:{id}"),
                from,
                from_name: row.get("FromName").map(one_line),
                subject,
                body,
                // decided per case below: the customer's own mail is customer-visible
                visibility: Visibility::Internal,
                from_customer: false,
                rule: ThreadRule::References,
                note: None,
            },
        })
    } else {
        let to = row.get("ToAddress").unwrap_or("the customer");
        Ok(Entry {
            at,
            actor: row
                .get("FromName")
                .map(one_line)
                .unwrap_or_else(|| who(row)),
            kind: EventKind::PostAdded {
                kind: PostKind::Note,
                body: format!("Email to {to}: {subject}\n\n{body}"),
                visibility: Visibility::Customer,
                from_customer: false,
            },
        })
    }
}

fn history(
    row: &Row<'_>,
    mut entries: Vec<Entry>,
    mapping: &Mapping,
    workflow: &WorkflowConfig,
) -> Result<Vec<Event>, String> {
    let number = row.get("CaseNumber").ok_or("CaseNumber is empty")?;
    let case: CaseNumber = number
        .parse()
        .map_err(|e: crate::ids::ParseError| format!("CaseNumber {number:?}: {}", e.reason))?;
    let created = row.time("CreatedDate")?.ok_or("CreatedDate is empty")?;
    let address = row
        .get("SuppliedEmail")
        .or(row.get("ContactEmail"))
        .ok_or("no SuppliedEmail or ContactEmail (Casework needs one for every customer)")?;
    let email: EmailAddress = address.parse().map_err(|e: crate::ids::ParseError| {
        format!("the customer's email address: {}", e.reason)
    })?;
    let mut customer = Customer::new(
        row.get("SuppliedName")
            .map(one_line)
            .unwrap_or_else(|| email.to_string()),
        email,
    );
    customer.phone = row
        .get("SuppliedPhone")
        .or(row.get("ContactPhone"))
        .map(one_line);
    customer.account = row.get("SuppliedCompany").map(one_line);
    let origin = match row.get("Origin").map(str::to_ascii_lowercase).as_deref() {
        Some("phone") => Origin::Phone,
        Some("email") => Origin::Email,
        Some("web") => Origin::Web,
        Some("chat") => Origin::Chat,
        _ => Origin::Other,
    };
    let priority = match row.get("Priority").map(str::to_ascii_lowercase).as_deref() {
        None | Some("medium") | Some("normal") => Priority::Medium,
        Some("low") => Priority::Low,
        Some("high") => Priority::High,
        Some("urgent") | Some("critical") => Priority::Urgent,
        Some(other) => return Err(format!("Priority: unknown value {other:?}")),
    };
    let mut fields: Vec<(Field, String)> = mapping
        .fields
        .iter()
        .filter_map(|(column, field)| row.get(column).map(|v| (*field, one_line(v))))
        .collect();
    let take = |fields: &mut Vec<(Field, String)>, f: Field| {
        fields
            .iter()
            .position(|(g, _)| *g == f)
            .map(|i| fields.remove(i).1)
    };
    let product = take(&mut fields, Field::Product);
    let product_version = take(&mut fields, Field::ProductVersion);
    let title = row
        .get("Subject")
        .map(one_line)
        .unwrap_or_else(|| "(no subject)".into());
    let initial = workflow.initial_status.clone();
    let opener = who(row);
    let mut events: Vec<Event> = Vec::new();
    let customer_email = customer.email.clone();
    append(
        &mut events,
        case,
        created,
        opener.clone(),
        EventKind::Opened {
            title,
            description: row.get("Description").unwrap_or("").to_string(),
            origin,
            priority,
            customer,
            product,
            product_version,
            status: initial.clone(),
            category: workflow.category_of(&initial),
        },
    );
    for (field, value) in fields {
        append(
            &mut events,
            case,
            created,
            opener.clone(),
            EventKind::FieldChanged {
                field,
                from: None,
                to: Some(value),
            },
        );
    }
    if let Some(owner) = row.get("OwnerId").and_then(|id| mapping.owners.get(id)) {
        append(
            &mut events,
            case,
            created,
            "salesforce".into(),
            EventKind::OwnerChanged {
                from: None,
                to: owner.clone(),
            },
        );
    }
    entries.sort_by_key(|e| e.at);
    for mut e in entries {
        if let EventKind::EmailReceived {
            from,
            visibility,
            from_customer,
            ..
        } = &mut e.kind
        {
            if *from == customer_email {
                *visibility = Visibility::Customer;
                *from_customer = true;
            } else {
                *visibility = Visibility::Internal;
            }
        }
        append(&mut events, case, e.at.max(created), e.actor, e.kind);
    }
    let last = events.last().map(|e| e.at).unwrap_or(created);
    if row.flag("IsClosed") {
        let at = row.time("ClosedDate")?.unwrap_or(last).max(last);
        append(
            &mut events,
            case,
            at,
            "salesforce".into(),
            EventKind::Closed {
                mode: CloseMode::Resolved,
                from: initial.clone(),
                to: workflow.closed_status.clone(),
                resolution: None,
            },
        );
    } else if let Some(status) = row.get("Status") {
        let name = mapping
            .statuses
            .get(status)
            .map(String::as_str)
            .unwrap_or(status);
        if let Some(def) = workflow.status(name) {
            if def.name != initial && def.category != StatusCategory::Closed {
                let at = row.time("LastModifiedDate")?.unwrap_or(last).max(last);
                append(
                    &mut events,
                    case,
                    at,
                    "salesforce".into(),
                    EventKind::StatusChanged {
                        from: initial.clone(),
                        to: def.name.clone(),
                        category: def.category,
                        note: Some(format!("salesforce status: {status}")),
                    },
                );
            }
        } else {
            return Err(format!(
                "Status {status:?} is not a status of the workflow file: map it in the mapping file's [statuses]"
            ));
        }
    }
    Ok(events)
}
