//! A query (topic).

use serde::{Deserialize, Serialize};

/// One query with its id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Query {
    pub id: String,
    pub text: String,
}
