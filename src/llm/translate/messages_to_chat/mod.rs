//! The client speaks Anthropic Messages, the provider OpenAI Chat Completions: requests go from
//! messages to chat, answers and streams come back from chat to messages.

mod conversation;
mod request;
mod response;
mod stream;

pub use request::request;
pub use response::response;
pub use stream::Stream;
