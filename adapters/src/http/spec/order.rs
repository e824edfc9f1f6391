//! The order the document is written in. The finished document is a `serde_json::Value`,
//! whose objects keep their keys sorted; written as they are, Swagger UI would open on
//! the account routes (`/api/{user_id}…` sorts before `/api/auth/…` … and `Account`
//! before `Authentication`) with sign up as the fourth auth operation. So the document is
//! written through [`Ordered`]: the path items in the order a person works through the
//! API — by their operations' tag, in the order of the top-level `tags` list, then by
//! [`WORKFLOW`], then by path — and every other object with its keys sorted, as before.

use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::{Map, Value};

/// The order of the top-level tags: what a newcomer does first comes first.
pub(super) const TAG_ORDER: [&str; 3] = ["Authentication", "Account", "Operations"];

/// Within a tag, these operations come first, in this order; the rest follow by path.
const WORKFLOW: [&str; 11] = [
    "signUp",
    "logIn",
    "getCurrentUser",
    "logOut",
    "getProfile",
    "listSessions",
    "revokeSession",
    "listAuthEvents",
    "changePassword",
    "deactivateAccount",
    "getHealth",
];

/// Sorts the top-level `tags` list by [`TAG_ORDER`] (unknown tags last, by name).
pub(super) fn order_tags(root: &mut Map<String, Value>) {
    if let Some(tags) = root.get_mut("tags").and_then(Value::as_array_mut) {
        tags.sort_by_key(|tag| {
            let name = tag.get("name").and_then(Value::as_str).unwrap_or_default();
            (rank(&TAG_ORDER, name), name.to_owned())
        });
    }
}

fn rank(list: &[&str], name: &str) -> usize {
    list.iter().position(|n| *n == name).unwrap_or(list.len())
}

/// Where a path item goes: its first operation's tag, then that operation's place in
/// [`WORKFLOW`], then the path itself.
fn path_key(path: &str, item: &Value) -> (usize, usize, String) {
    let mut best = (usize::MAX, usize::MAX);
    if let Some(ops) = item.as_object() {
        for op in ops.values() {
            let tag = op
                .pointer("/tags/0")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let id = op
                .get("operationId")
                .and_then(Value::as_str)
                .unwrap_or_default();
            best = best.min((rank(&TAG_ORDER, tag), rank(&WORKFLOW, id)));
        }
    }
    (best.0, best.1, path.to_owned())
}

/// A document to serialize in the order described above.
pub(super) struct Ordered<'a>(pub &'a Value);

impl Serialize for Ordered<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        Node {
            value: self.0,
            at: Place::Root,
        }
        .serialize(serializer)
    }
}

/// Where a value stands: the root, the root's `paths`, or anywhere else.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    Root,
    Paths,
    Inside,
}

struct Node<'a> {
    value: &'a Value,
    at: Place,
}

impl Serialize for Node<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.value {
            Value::Object(map) => {
                let mut items: Vec<(&String, &Value)> = map.iter().collect();
                if self.at == Place::Paths {
                    items.sort_by_cached_key(|(path, item)| path_key(path, item));
                }
                let mut out = serializer.serialize_map(Some(items.len()))?;
                for (key, value) in items {
                    let at = if self.at == Place::Root && key == "paths" {
                        Place::Paths
                    } else {
                        Place::Inside
                    };
                    out.serialize_entry(key, &Node { value, at })?;
                }
                out.end()
            }
            Value::Array(items) => {
                let mut out = serializer.serialize_seq(Some(items.len()))?;
                for value in items {
                    out.serialize_element(&Node {
                        value,
                        at: Place::Inside,
                    })?;
                }
                out.end()
            }
            other => other.serialize(serializer),
        }
    }
}
