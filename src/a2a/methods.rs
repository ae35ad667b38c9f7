//! The A2A JSON-RPC methods of v1.0 and v0.3: what each asks of the policies, and where its
//! task id is.

use crate::authz::Action;

/// What a method does, in the terms agentmux decides and records on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Send {
        streaming: bool,
    },
    GetTask,
    ListTasks,
    CancelTask,
    Subscribe,
    /// The push-notification config methods; `create` registers a URL.
    Push {
        create: bool,
    },
    ExtendedCard,
}

impl Op {
    pub fn action(self) -> Action {
        match self {
            Self::Send { .. } => Action::SendMessage,
            Self::GetTask | Self::ListTasks | Self::Subscribe => Action::ReadTask,
            Self::CancelTask => Action::CancelTask,
            Self::Push { .. } => Action::ConfigurePush,
            Self::ExtendedCard => Action::ReadCard,
        }
    }
}

/// A known method: its name as sent (static, for policies and the audit) and what it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Method {
    pub name: &'static str,
    pub op: Op,
    /// Where `params` names the task: `id` or `taskId`.
    pub task_key: Option<&'static str>,
}

const METHODS: [Method; 21] = [
    // v1.0
    m("SendMessage", Op::Send { streaming: false }, None),
    m("SendStreamingMessage", Op::Send { streaming: true }, None),
    m("GetTask", Op::GetTask, Some("id")),
    m("ListTasks", Op::ListTasks, None),
    m("CancelTask", Op::CancelTask, Some("id")),
    m("SubscribeToTask", Op::Subscribe, Some("id")),
    m(
        "CreateTaskPushNotificationConfig",
        Op::Push { create: true },
        Some("taskId"),
    ),
    m(
        "GetTaskPushNotificationConfig",
        Op::Push { create: false },
        Some("taskId"),
    ),
    m(
        "ListTaskPushNotificationConfigs",
        Op::Push { create: false },
        Some("taskId"),
    ),
    m(
        "DeleteTaskPushNotificationConfig",
        Op::Push { create: false },
        Some("taskId"),
    ),
    m("GetExtendedAgentCard", Op::ExtendedCard, None),
    // v0.3
    m("message/send", Op::Send { streaming: false }, None),
    m("message/stream", Op::Send { streaming: true }, None),
    m("tasks/get", Op::GetTask, Some("id")),
    m("tasks/cancel", Op::CancelTask, Some("id")),
    m("tasks/resubscribe", Op::Subscribe, Some("id")),
    m(
        "tasks/pushNotificationConfig/set",
        Op::Push { create: true },
        Some("taskId"),
    ),
    m(
        "tasks/pushNotificationConfig/get",
        Op::Push { create: false },
        Some("id"),
    ),
    m(
        "tasks/pushNotificationConfig/list",
        Op::Push { create: false },
        Some("id"),
    ),
    m(
        "tasks/pushNotificationConfig/delete",
        Op::Push { create: false },
        Some("id"),
    ),
    m("agent/getAuthenticatedExtendedCard", Op::ExtendedCard, None),
];

const fn m(name: &'static str, op: Op, task_key: Option<&'static str>) -> Method {
    Method { name, op, task_key }
}

pub fn find(name: &str) -> Option<Method> {
    METHODS.iter().find(|m| m.name == name).copied()
}

/// The A2A versions agentmux serves, by the `A2A-Version` header (absent: 0.3, as the
/// specification says). Static, as policies and the audit read them.
pub fn version(header: Option<&str>) -> Option<&'static str> {
    match header.map(str::trim) {
        None | Some("") => Some("0.3"),
        Some("1.0" | "1") => Some("1.0"),
        Some("0.3" | "0.3.0") => Some("0.3"),
        Some(_) => None,
    }
}

/// The method policies see for reading a card or the directory.
pub const GET_CARD: &str = "GetAgentCard";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_versions_map_to_the_same_actions() {
        assert_eq!(find("SendStreamingMessage").unwrap().op.action(), Action::SendMessage);
        assert_eq!(find("message/stream").unwrap().op, Op::Send { streaming: true });
        assert_eq!(find("tasks/resubscribe").unwrap().op.action(), Action::ReadTask);
        assert_eq!(find("tasks/pushNotificationConfig/get").unwrap().task_key, Some("id"));
        assert_eq!(
            find("agent/getAuthenticatedExtendedCard").unwrap().op.action(),
            Action::ReadCard
        );
        assert!(find("tools/call").is_none());
        assert_eq!(version(None), Some("0.3"));
        assert_eq!(version(Some("1.0")), Some("1.0"));
        assert_eq!(version(Some("2.0")), None);
    }
}
