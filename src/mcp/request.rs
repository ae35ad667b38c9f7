//! One client request as the hub handles it: where it came in, its raw id, method and params, and
//! who sent it.

use std::sync::Arc;

use serde_json::value::RawValue;

use super::session::{Scope, Session};
use crate::authz::Caller;
use crate::jsonrpc::{Message, null_ref};

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

impl<'a> Request<'a> {
    /// The request `message` carries (a message without an id is answered with id `null`).
    pub fn of(message: &'a Message<'a>, scope: Scope, session: Option<&'a Arc<Session>>, caller: &'a Caller) -> Self {
        Self {
            scope,
            session,
            id: message.id.unwrap_or_else(|| null_ref()),
            method: message.method.as_deref().unwrap_or_default(),
            params: message.params,
            caller,
        }
    }
}
