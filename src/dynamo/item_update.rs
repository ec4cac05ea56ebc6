//! The update of an existing payment or refund item that `Payments::commit` writes with a
//! change: what it sets, what it removes, its place in the repair index, and its conditions.
use aws_sdk_dynamodb::types::{TransactWriteItem, Update};

use super::DynamoStore;
use super::attrs::{Item, n, s};
use super::items::{ATTEMPTS, BANK_LAST_ATTEMPT, VERSION};
use super::keys::{GSI2PK, GSI2SK, PK, SK};
use crate::domain::ports::StoreError;

impl DynamoStore {
    /// An update of an existing item that sets `sets` and removes whichever of `optional` it
    /// lacks, moves the item in the repair index as `index` says, and holds only while the
    /// item's `Version` is `version` (when given; 0 stands for an item from before versions) and
    /// its last bank attempt is `guard`'s (when given; `None` for none noted).
    pub(super) fn update_item(
        &self,
        (pk, sk): (String, String),
        sets: Item,
        optional: &[&str],
        index: Repair,
        version: Option<u64>,
        guard: Option<Option<u64>>,
    ) -> Result<TransactWriteItem, StoreError> {
        // Every attribute is named by a placeholder made of its own name (`#Status = :Status`):
        // some are reserved words. Built with plain pushes into maps sized once: this runs for
        // every change of every payment, and formatting each clause was a measurable share of
        // the payment-worker's CPU (docs/BENCHMARK.md).
        let absent: Vec<&str> = optional.iter().copied().filter(|o| !sets.contains_key(*o)).collect();
        let mut names = std::collections::HashMap::with_capacity(sets.len() + absent.len() + 2);
        let mut values = std::collections::HashMap::with_capacity(sets.len() + 3);
        let mut expr = String::with_capacity(64 + 40 * sets.len());
        expr.push_str("SET ");
        for (i, (name, value)) in sets.into_iter().enumerate() {
            debug_assert!(
                name.bytes().all(|b| b.is_ascii_alphanumeric()),
                "attribute {name} cannot name its own placeholder"
            );
            let (hash, colon) = (placeholder('#', &name), placeholder(':', &name));
            if i > 0 {
                expr.push_str(", ");
            }
            expr.push_str(&hash);
            if ATTEMPTS.contains(&name.as_str()) {
                for part in [" = if_not_exists(", &hash, ", ", &colon, ")"] {
                    expr.push_str(part);
                }
            } else {
                expr.push_str(" = ");
                expr.push_str(&colon);
            }
            names.insert(hash, name);
            values.insert(colon, value);
        }
        let mut remove: Vec<String> = absent.iter().map(|name| placeholder('#', name)).collect();
        for (hash, name) in remove.iter().zip(absent) {
            names.insert(hash.clone(), name.to_owned());
        }
        match index {
            Repair::Touch(sk) => {
                for part in [", ", GSI2SK, " = :rsk"] {
                    expr.push_str(part);
                }
                values.insert(":rsk".into(), s(sk));
            }
            Repair::Leave => remove.extend([GSI2PK.to_owned(), GSI2SK.to_owned()]),
            Repair::Keep => {}
        }
        if !remove.is_empty() {
            expr.push_str(" REMOVE ");
            expr.push_str(&remove.join(", "));
        }
        let mut condition = match version {
            None => "attribute_exists(PK)".to_owned(),
            Some(0) => "attribute_exists(PK) AND attribute_not_exists(#ver)".to_owned(),
            Some(v) => {
                values.insert(":ver".into(), n(v));
                "#ver = :ver".to_owned()
            }
        };
        if version.is_some() {
            names.insert("#ver".into(), VERSION.to_owned());
        }
        if let Some(last) = guard {
            names.insert("#last".into(), BANK_LAST_ATTEMPT.to_owned());
            match last {
                Some(at) => {
                    values.insert(":last".into(), n(at));
                    condition.push_str(" AND #last = :last");
                }
                None => condition.push_str(" AND attribute_not_exists(#last)"),
            }
        }
        let update = Update::builder()
            .table_name(&self.table)
            .key(PK, s(pk))
            .key(SK, s(sk))
            .update_expression(expr)
            .condition_expression(condition)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .build()
            .map_err(|_| StoreError::Permanent("bad update".into()))?;
        Ok(TransactWriteItem::builder().update(update).build())
    }
}

/// `#Status` or `:Status`: the placeholder of attribute `name` in an expression.
fn placeholder(sigil: char, name: &str) -> String {
    let mut p = String::with_capacity(name.len() + 1);
    p.push(sigil);
    p.push_str(name);
    p
}

/// What a change does to an item's place in the repair index (GSI2).
pub(super) enum Repair {
    /// It moved to a non-final state: it goes to the back, at this sort key.
    Touch(String),
    /// It became final: it leaves the index.
    Leave,
    /// Its state did not move (a refund's change on the payment item): its place is kept.
    Keep,
}

#[cfg(test)]
mod tests {
    use aws_sdk_dynamodb::types::AttributeValue;

    use super::*;

    fn store() -> DynamoStore {
        let conf = aws_sdk_dynamodb::Config::builder().behavior_version_latest().build();
        DynamoStore::new(aws_sdk_dynamodb::Client::from_conf(conf), "t")
    }

    fn sets() -> Item {
        Item::from([("Status".to_owned(), s("SUCCEEDED")), (BANK_LAST_ATTEMPT.to_owned(), n(7))])
    }

    fn update(index: Repair, version: Option<u64>, guard: Option<Option<u64>>) -> Update {
        let at = ("PAYMENT#p".to_owned(), "PAYMENT".to_owned());
        let item = store().update_item(at, sets(), &["Reason", "Status"], index, version, guard).unwrap();
        item.update.unwrap()
    }

    /// The clauses of the expression's SET and REMOVE, each sorted (the order of a map's).
    fn clauses(expr: &str) -> (Vec<String>, Vec<String>) {
        let (set, remove) = expr.strip_prefix("SET ").unwrap().split_once(" REMOVE ").unwrap_or((expr, ""));
        // Split at the commas outside parentheses (`if_not_exists(a, b)` is one clause).
        let split = |list: &str| {
            let (mut parts, mut part, mut depth) = (Vec::new(), String::new(), 0);
            for c in list.chars() {
                match c {
                    '(' => depth += 1,
                    ')' => depth -= 1,
                    ',' if depth == 0 => {
                        parts.push(std::mem::take(&mut part).trim().to_owned());
                        continue;
                    }
                    _ => {}
                }
                part.push(c);
            }
            parts.push(part.trim().to_owned());
            parts.retain(|p| !p.is_empty());
            parts.sort_unstable();
            parts
        };
        (split(set), split(remove))
    }

    #[test]
    fn an_update_sets_what_it_is_given_keeps_attempts_and_removes_the_optional_attributes_it_lacks() {
        let u = update(Repair::Leave, Some(3), Some(Some(5)));
        let (set, remove) = clauses(u.update_expression());
        assert_eq!(set, ["#BankLastAttempt = if_not_exists(#BankLastAttempt, :BankLastAttempt)", "#Status = :Status"]);
        assert_eq!(remove, ["#Reason", GSI2PK, GSI2SK], "a final state leaves the repair index");
        assert_eq!(u.condition_expression(), Some("#ver = :ver AND #last = :last"));
        let names = u.expression_attribute_names().unwrap();
        assert_eq!(names.len(), 5, "{names:?}");
        for (hash, name) in
            [("#Status", "Status"), ("#Reason", "Reason"), ("#ver", VERSION), ("#last", BANK_LAST_ATTEMPT)]
        {
            assert_eq!(names.get(hash).map(String::as_str), Some(name));
        }
        let values = u.expression_attribute_values().unwrap();
        assert_eq!(values.get(":Status"), Some(&AttributeValue::S("SUCCEEDED".into())));
        assert_eq!((values.get(":ver"), values.get(":last")), (Some(&n(3)), Some(&n(5))));
        assert_eq!(values.len(), 4, "{values:?}");
    }

    #[test]
    fn a_touch_moves_the_item_in_the_repair_index_and_the_conditions_follow_what_is_known() {
        let u = update(Repair::Touch("100#p".into()), Some(0), Some(None));
        let (set, remove) = clauses(u.update_expression());
        assert!(set.iter().any(|c| c == "GSI2SK = :rsk"), "{set:?}");
        assert_eq!(remove, ["#Reason"]);
        assert_eq!(u.expression_attribute_values().unwrap().get(":rsk"), Some(&s("100#p")));
        let expected = "attribute_exists(PK) AND attribute_not_exists(#ver) AND attribute_not_exists(#last)";
        assert_eq!(u.condition_expression(), Some(expected));

        let u = update(Repair::Keep, None, None);
        assert_eq!(clauses(u.update_expression()).1, ["#Reason"]);
        assert_eq!(u.condition_expression(), Some("attribute_exists(PK)"));
        assert!(!u.expression_attribute_names().unwrap().contains_key("#ver"));
    }
}
