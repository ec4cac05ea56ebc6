//! Reading and writing item attributes, with a typed error instead of panics on odd items.
use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use crate::domain::ports::StoreError;

pub type Item = HashMap<String, AttributeValue>;

pub fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

pub fn n(v: u64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn corrupt(name: &str) -> StoreError {
    StoreError::Permanent(format!("stored item has a bad or missing attribute {name}"))
}

pub fn get_s<'a>(item: &'a Item, name: &str) -> Result<&'a str, StoreError> {
    opt_s(item, name).ok_or_else(|| corrupt(name))
}

pub fn opt_s<'a>(item: &'a Item, name: &str) -> Option<&'a str> {
    item.get(name).and_then(|v| v.as_s().ok()).map(String::as_str)
}

pub fn get_n(item: &Item, name: &str) -> Result<u64, StoreError> {
    opt_n(item, name)?.ok_or_else(|| corrupt(name))
}

pub fn opt_n(item: &Item, name: &str) -> Result<Option<u64>, StoreError> {
    match item.get(name) {
        None | Some(AttributeValue::Null(_)) => Ok(None),
        Some(v) => v.as_n().ok().and_then(|x| x.parse().ok()).map(Some).ok_or_else(|| corrupt(name)),
    }
}

/// Parses a string attribute with `parse`, reporting the attribute on failure.
pub fn get_parsed<T, E>(item: &Item, name: &str, parse: impl FnOnce(&str) -> Result<T, E>) -> Result<T, StoreError> {
    parse(get_s(item, name)?).map_err(|_| corrupt(name))
}

/// Builds an item or a value map, filled in place. Sized up front for the attributes it usually
/// holds, so it is not rehashed while it is filled; `maybe_*` leave out a `None`.
pub struct ItemBuilder(Item);

impl ItemBuilder {
    pub fn with_capacity(n: usize) -> Self {
        Self(Item::with_capacity(n))
    }

    pub fn put(&mut self, name: &str, v: AttributeValue) -> &mut Self {
        self.0.insert(name.to_owned(), v);
        self
    }

    pub fn s(&mut self, name: &str, v: impl Into<String>) -> &mut Self {
        self.put(name, s(v))
    }

    pub fn n(&mut self, name: &str, v: u64) -> &mut Self {
        self.put(name, n(v))
    }

    pub fn maybe_s(&mut self, name: &str, v: Option<&str>) -> &mut Self {
        if let Some(v) = v {
            self.s(name, v);
        }
        self
    }

    pub fn maybe_n(&mut self, name: &str, v: Option<u64>) -> &mut Self {
        if let Some(v) = v {
            self.n(name, v);
        }
        self
    }

    pub fn build(self) -> Item {
        self.0
    }
}
