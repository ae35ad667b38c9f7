//! Amazon Bedrock's Converse API: `POST {base}/model/{model id}/converse` (or
//! `/converse-stream`), signed with AWS Signature Version 4 for the service `bedrock`.
//!
//! A model id names a version after a colon (`anthropic.claude-3-haiku-20240307-v1:0`) and an
//! inference-profile ARN carries colons and slashes; the URL sends them percent-encoded, as the
//! AWS SDKs do. SigV4 then signs that path URI-encoded once more (`%3A` as `%253A`), as every
//! AWS service but S3 expects: the `aws-sigv4` crate's default double encoding. Signing is the
//! AWS SDK's own crate, not ours: a hand-made signer fails in ways only AWS notices.

use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign as sign_request};
use aws_sigv4::sign::v4;
use http::{HeaderMap, HeaderName, HeaderValue};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// The SigV4 service name Bedrock Runtime's credential scope names.
const SERVICE: &str = "bedrock";

/// What a model id keeps unencoded in a path segment: RFC 3986's unreserved characters, as
/// the AWS SDKs' label encoding does; `:` and `/` are encoded.
const MODEL_ID: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// An AWS identity: a long-term key pair, or temporary credentials with their session token.
#[derive(Clone)]
pub struct AwsCredentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

// The secret and the token never show in debug output.
impl std::fmt::Debug for AwsCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AwsCredentials")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

/// The Converse URL of `model` under `base` (the regional endpoint, e.g.
/// `https://bedrock-runtime.us-east-1.amazonaws.com`).
pub fn url(base: &str, model: &str, stream: bool) -> String {
    let operation = if stream { "converse-stream" } else { "converse" };
    let model = utf8_percent_encode(model, MODEL_ID);
    format!("{}/model/{model}/{operation}", base.trim_end_matches('/'))
}

/// Signs a POST of `body` to `url` for Bedrock in `region` at `time`: adds `x-amz-date`,
/// `authorization` and, for temporary credentials, `x-amz-security-token` to `headers`. The
/// headers already in `headers` are signed too, so they must go out as they are; `host` is
/// signed as the URL's authority, which is what an HTTP client sends. No
/// `x-amz-content-sha256`: only S3 requires it. Err: a URL or header that cannot be signed.
pub fn sign(
    credentials: &AwsCredentials,
    region: &str,
    url: &str,
    headers: &mut HeaderMap,
    body: &[u8],
    time: SystemTime,
) -> Result<(), String> {
    let identity = Credentials::new(
        &credentials.access_key_id,
        &credentials.secret_access_key,
        credentials.session_token.clone(),
        None,
        "agentmux",
    )
    .into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(SERVICE)
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .map_err(|e| format!("SigV4: {e}"))?
        .into();
    let mut given = Vec::with_capacity(headers.len());
    for (name, value) in headers.iter() {
        let value = value
            .to_str()
            .map_err(|_| format!("SigV4: the `{name}` header is not text and cannot be signed"))?;
        given.push((name.as_str(), value));
    }
    let request = SignableRequest::new("POST", url, given.into_iter(), SignableBody::Bytes(body))
        .map_err(|e| format!("SigV4: cannot sign a request to {url}: {e}"))?;
    let (instructions, _signature) = sign_request(request, &params)
        .map_err(|e| format!("SigV4: {e}"))?
        .into_parts();
    let (signed, _query) = instructions.into_parts();
    for header in signed {
        let name = HeaderName::from_bytes(header.name().as_bytes())
            .map_err(|_| format!("SigV4: `{}` is not a header name", header.name()))?;
        let mut value = HeaderValue::from_str(header.value())
            .map_err(|_| format!("SigV4: the `{name}` value is not a valid header value"))?;
        // `authorization` and the session token are marked by the signer; never logged.
        value.set_sensitive(header.sensitive() || name == http::header::AUTHORIZATION);
        headers.insert(name, value);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use super::*;

    /// AWS's documented example identity, the one its SigV4 test suite signs with.
    fn example(session_token: Option<&str>) -> AwsCredentials {
        AwsCredentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
            session_token: session_token.map(str::to_string),
        }
    }

    /// 2015-08-30T12:36:00Z, the test suite's time.
    fn suite_time() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_440_938_160)
    }

    const BODY: &[u8] = br#"{"messages":[{"role":"user","content":[{"text":"Hello"}]}]}"#;

    fn signed(credentials: &AwsCredentials, region: &str, url: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("content-type", HeaderValue::from_static("application/json"));
        sign(credentials, region, url, &mut headers, BODY, suite_time()).unwrap();
        headers
    }

    // The expected signatures below were computed independently by the fake Bedrock's verifier,
    // `fixtures/llm/sigv4.py` (`canonical_request` and `signature`, run with python3 on the same
    // method, path, headers and body). That verifier reproduces the test suite's published
    // `post-vanilla` signature (5da7c1a2…5d6b) for the suite's own request, so it is no echo of
    // the signer under test.

    #[test]
    fn a_request_signs_as_the_sigv4_test_suite_computes() {
        let url = "https://bedrock-runtime.us-east-1.amazonaws.com/model/amazon.titan-text-express-v1/converse";
        let headers = signed(&example(None), "us-east-1", url);
        assert_eq!(headers["x-amz-date"], "20150830T123600Z");
        assert_eq!(
            headers["authorization"],
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/bedrock/aws4_request, \
             SignedHeaders=content-type;host;x-amz-date, \
             Signature=8c7d67e0e344481328efd5548d6965f2d8d634dafa0f7ee393f4c93dbe32503b"
        );
        assert!(headers["authorization"].is_sensitive());
        assert!(headers.get("x-amz-security-token").is_none());
        assert!(headers.get("x-amz-content-sha256").is_none());
    }

    #[test]
    fn a_model_id_with_a_colon_is_signed_double_encoded() {
        let token = "AQoDYXdzEPT//////////wEXAMPLE";
        let url = url(
            "https://bedrock-runtime.us-west-2.amazonaws.com/",
            "anthropic.claude-3-haiku-20240307-v1:0",
            true,
        );
        assert_eq!(
            url,
            "https://bedrock-runtime.us-west-2.amazonaws.com/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse-stream"
        );
        let headers = signed(&example(Some(token)), "us-west-2", &url);
        // Canonical URI `/model/anthropic.claude-3-haiku-20240307-v1%253A0/converse-stream`.
        assert_eq!(
            headers["authorization"],
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-west-2/bedrock/aws4_request, \
             SignedHeaders=content-type;host;x-amz-date;x-amz-security-token, \
             Signature=89190d3f20e5048fbd871a050ef67a46eb575906326dc5cd777e211ae70279dc"
        );
        assert_eq!(headers["x-amz-security-token"], token);
        assert!(headers["x-amz-security-token"].is_sensitive());
    }

    #[test]
    fn model_ids_are_one_path_segment() {
        assert_eq!(
            url("http://127.0.0.1:9000", "amazon.nova-lite-v1:0", false),
            "http://127.0.0.1:9000/model/amazon.nova-lite-v1%3A0/converse"
        );
        let arn =
            "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-sonnet-4-5-20250929-v1:0";
        assert_eq!(
            url("https://b", arn, false),
            "https://b/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile%2F\
             us.anthropic.claude-sonnet-4-5-20250929-v1%3A0/converse"
        );
    }

    #[test]
    fn the_secret_never_shows_in_debug_output() {
        let text = format!("{:?}", example(Some("TOKEN")));
        assert!(text.contains("AKIDEXAMPLE") && !text.contains("EXAMPLEKEY") && !text.contains("TOKEN"));
    }
}
