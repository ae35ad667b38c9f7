//! The client speaks OpenAI Chat Completions, the provider Anthropic Messages: requests go
//! from chat to messages, answers and streams come back from messages to chat.

mod conversation;
mod request;
mod response;
mod stream;

pub use request::request;
pub use response::response;
pub use stream::Stream;
