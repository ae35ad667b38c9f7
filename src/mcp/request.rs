//! One client request as the hub handles it: where it came in, its raw id, method and params, and
//! who sent it.

use std::sync::Arc;

use serde_json::value::RawValue;

use super::session::{Scope, Session};
use crate::authz::Caller;

/// One client request.
pub struct Request<'a> {
    pub scope: Scope,
    pub session: Option<&'a Arc<Session>>,
    /// The client's id, raw.
    pub id: &'a RawValue,
    pub method: &'a str,
    pub params: Option<&'a RawValue>,
    pub caller: &'a Caller,
}
