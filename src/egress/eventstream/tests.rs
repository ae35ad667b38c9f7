//! Frames written by the AWS crate's own encoder, fed whole, cut at every byte, and spoiled.

use aws_smithy_eventstream::frame::write_message_to;
use aws_smithy_types::event_stream::{Header, HeaderValue};
use futures_util::{StreamExt, stream};

use super::*;

fn frame(headers: &[(&'static str, &'static str)], payload: &'static str) -> Vec<u8> {
    let headers = headers
        .iter()
        .map(|(name, value)| Header::new(*name, HeaderValue::String((*value).into())))
        .collect();
    let mut out = Vec::new();
    write_message_to(&Message::new_from_parts(headers, payload), &mut out).unwrap();
    out
}

/// A Bedrock event, headers as the service sends them.
fn event(kind: &'static str, payload: &'static str) -> Vec<u8> {
    frame(
        &[
            (":event-type", kind),
            (":content-type", "application/json"),
            (":message-type", "event"),
        ],
        payload,
    )
}

async fn collect(chunks: Vec<Vec<u8>>, limit: usize) -> Vec<Result<(String, String), String>> {
    let chunks = chunks.into_iter().map(|c| Ok(Bytes::from(c)));
    events(stream::iter(chunks), limit)
        .map(|e| e.map(|e| (e.event, e.data)))
        .collect()
        .await
}

fn ok(name: &str, data: &str) -> Result<(String, String), String> {
    Ok((name.to_string(), data.to_string()))
}

#[tokio::test]
async fn messages_become_named_events_however_the_bytes_are_cut() {
    let mut bytes = event("messageStart", r#"{"role":"assistant"}"#);
    bytes.extend(event(
        "contentBlockDelta",
        r#"{"contentBlockIndex":0,"delta":{"text":"Hé"}}"#,
    ));
    bytes.extend(event("messageStop", r#"{"stopReason":"end_turn"}"#));
    let expected = vec![
        ok("messageStart", r#"{"role":"assistant"}"#),
        ok("contentBlockDelta", r#"{"contentBlockIndex":0,"delta":{"text":"Hé"}}"#),
        ok("messageStop", r#"{"stopReason":"end_turn"}"#),
    ];
    assert_eq!(collect(vec![bytes.clone()], 1024).await, expected);
    for size in [1, 2, 5, 12, 13, 50] {
        let chunks = bytes.chunks(size).map(<[u8]>::to_vec).collect();
        assert_eq!(collect(chunks, 1024).await, expected, "chunks of {size}");
    }
}

#[tokio::test]
async fn exceptions_and_errors_are_named_by_their_type() {
    let exception = frame(
        &[
            (":exception-type", "throttlingException"),
            (":content-type", "application/json"),
            (":message-type", "exception"),
        ],
        r#"{"message":"Too many requests"}"#,
    );
    let error = frame(
        &[
            (":error-code", "InternalFailure"),
            (":error-message", "An internal error occurred"),
            (":message-type", "error"),
        ],
        "",
    );
    assert_eq!(
        collect(vec![exception, error], 1024).await,
        vec![
            ok("throttlingException", r#"{"message":"Too many requests"}"#),
            ok(
                "error",
                r#"{"message":"An internal error occurred","code":"InternalFailure"}"#
            ),
        ]
    );
}

#[tokio::test]
async fn a_crc_mismatch_ends_the_stream_with_an_error() {
    let mut spoiled = event("contentBlockDelta", r#"{"delta":{"text":"abc"}}"#);
    let at = spoiled.len() - 8;
    spoiled[at] ^= 0x20;
    let out = collect(
        vec![event("messageStart", "{}"), spoiled, event("messageStop", "{}")],
        1024,
    )
    .await;
    assert_eq!(out.len(), 2, "{out:?}");
    assert_eq!(out[0], ok("messageStart", "{}"));
    let error = out[1].as_ref().unwrap_err();
    assert!(error.contains("checksum"), "{error}");
}

#[tokio::test]
async fn a_message_over_the_bound_is_refused_from_its_prelude() {
    let big = event(
        "contentBlockDelta",
        r#"{"delta":{"text":"0123456789012345678901234567890123456789"}}"#,
    );
    let declared = big.len();
    // Only the prelude arrives: the bound acts before the message is buffered.
    let out = collect(vec![event("messageStart", "{}"), big[..12].to_vec()], 100).await;
    assert_eq!(out[0], ok("messageStart", "{}"));
    assert_eq!(
        out[1],
        Err(format!(
            "event stream: a message of {declared} bytes is over the 100-byte bound"
        ))
    );
    assert_eq!(out.len(), 2);
}

#[tokio::test]
async fn a_payload_that_is_not_utf8_is_an_error() {
    let message = Message::new_from_parts(
        vec![Header::new(":event-type", HeaderValue::String("metadata".into()))],
        Bytes::from_static(&[0xff, 0xfe]),
    );
    let mut bytes = Vec::new();
    write_message_to(&message, &mut bytes).unwrap();
    assert_eq!(
        collect(vec![bytes], 1024).await,
        vec![Err("event stream: the payload of `metadata` is not UTF-8".to_string())]
    );
}

#[tokio::test]
async fn a_stream_cut_inside_a_message_says_so() {
    let whole = event("messageStop", "{}");
    let out = collect(vec![whole[..whole.len() - 3].to_vec()], 1024).await;
    assert_eq!(out.len(), 1);
    assert!(
        out[0].as_ref().unwrap_err().contains("ended inside a message"),
        "{out:?}"
    );
}

#[tokio::test]
async fn a_transport_error_is_passed_on_and_ends_the_stream() {
    let chunks = vec![
        Ok(Bytes::from(event("messageStart", "{}"))),
        Err("connection reset".to_string()),
        Ok(Bytes::from(event("messageStop", "{}"))),
    ];
    let out: Vec<_> = events(stream::iter(chunks), 1024)
        .map(|e| e.map(|e| e.event))
        .collect()
        .await;
    assert_eq!(
        out,
        vec![Ok("messageStart".to_string()), Err("connection reset".to_string())]
    );
}

/// Frames from another encoder: the fake Bedrock's (`fixtures/llm/eventstream.py`), printed
/// with `eventstream.event("messageStart", {"role": "assistant"}).hex()` and
/// `eventstream.exception("throttlingException", "Too many requests").hex()`.
#[tokio::test]
async fn frames_from_the_fake_bedrock_decode() {
    let hex = |s: &str| -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    };
    let start = hex(
        "000000760000005296d5fade0b3a6576656e742d7479706507000c6d65737361676553746172740d3a636f6e74\
         656e742d747970650700106170706c69636174696f6e2f6a736f6e0d3a6d6573736167652d747970650700056576\
         656e747b22726f6c65223a22617373697374616e74227d6fa8c599",
    );
    let throttled = hex(
        "0000009100000061b3f180070f3a657863657074696f6e2d747970650700137468726f74746c696e6745786365\
         7074696f6e0d3a636f6e74656e742d747970650700106170706c69636174696f6e2f6a736f6e0d3a6d657373616765\
         2d74797065070009657863657074696f6e7b226d657373616765223a2022546f6f206d616e79207265717565737473227d\
         898cacc1",
    );
    assert_eq!(
        collect(vec![start, throttled], 1024).await,
        vec![
            ok("messageStart", r#"{"role":"assistant"}"#),
            ok("throttlingException", r#"{"message": "Too many requests"}"#),
        ]
    );
}
