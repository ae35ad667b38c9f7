//! The client speaks OpenAI Chat Completions, the provider Anthropic Messages: requests go
//! from chat to messages, answers and streams come back from messages to chat.

// Bedrock's Converse API shares the chat side of this translation: the conversation's rules
// (system hoisted, roles merged, tool results first) and the checks of tools and refusals.
pub(super) mod conversation;
pub(super) mod request;
mod response;
mod stream;

pub use request::request;
pub use response::response;
pub use stream::Stream;
