//! Images and PDFs. OpenAI carries them as URLs, bytes inline as `data:<media>;base64,<data>`;
//! Anthropic as a block with a `source`: `{type: base64, media_type, data}` or
//! `{type: url, url}`; Gemini as a part holding `inlineData: {mimeType, data}` or
//! `fileData: {mimeType, fileUri}`. The base64 text is moved as it is, never decoded: the
//! provider checks it. Uploaded files (OpenAI `file_id`, Anthropic `file` sources) live in one
//! provider's storage and cannot be named to the other: refused.

use serde_json::{Value, json};

/// `data:<media type>;base64,<data>` split into its media type and data.
fn data_url(url: &str) -> Option<(&str, &str)> {
    let (meta, data) = url.strip_prefix("data:")?.split_once(',')?;
    Some((meta.strip_suffix(";base64")?, data))
}

fn is_http(url: &str) -> bool {
    let lower = url.get(..8).unwrap_or(url).to_ascii_lowercase();
    lower.starts_with("https://") || lower.starts_with("http://")
}

fn text<'a>(value: &'a Value, pointer: &str) -> Option<&'a str> {
    value.pointer(pointer).and_then(Value::as_str)
}

/// An OpenAI `image_url` part as an Anthropic `image` block (`detail` has no equivalent).
/// `at` names the part in error messages.
pub fn image_block(part: &Value, at: &str) -> Result<Value, String> {
    let url = text(part, "/image_url/url").ok_or_else(|| format!("`{at}.image_url.url` is missing"))?;
    if let Some((media, data)) = data_url(url) {
        return Ok(json!({"type": "image", "source": {"type": "base64", "media_type": media, "data": data}}));
    }
    if is_http(url) {
        return Ok(json!({"type": "image", "source": {"type": "url", "url": url}}));
    }
    Err(format!(
        "`{at}.image_url.url`: only base64 `data:` URLs and http(s) URLs are translated"
    ))
}

/// An OpenAI `file` part holding a PDF inline as an Anthropic `document` block; its
/// `filename` becomes the document's `title`.
pub fn document_block(part: &Value, at: &str) -> Result<Value, String> {
    let data = pdf_data(part, at)?;
    let mut block =
        json!({"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": data}});
    if let Some(name) = text(part, "/file/filename") {
        block["title"] = json!(name);
    }
    Ok(block)
}

/// The base64 data of an OpenAI `file` part that holds a PDF inline, the only kind translated.
fn pdf_data<'a>(part: &'a Value, at: &str) -> Result<&'a str, String> {
    if part.pointer("/file/file_id").is_some_and(|v| !v.is_null()) {
        return Err(format!(
            "`{at}.file.file_id`: uploaded files are not translated; send the PDF as `file_data`"
        ));
    }
    let file_data = text(part, "/file/file_data").ok_or_else(|| format!("`{at}.file.file_data` is missing"))?;
    match data_url(file_data) {
        Some(("application/pdf", data)) => Ok(data),
        _ => Err(format!(
            "`{at}.file.file_data`: only PDFs given as base64 `data:` URLs are translated"
        )),
    }
}

/// An OpenAI `image_url` part as a Gemini part: bytes inline as `inlineData`, a web URL as
/// `fileData`, whose `mimeType` is guessed from the URL's extension and left out (it is
/// optional) when the extension says nothing; Gemini then reads the type from the fetched file.
pub fn gemini_image(part: &Value, at: &str) -> Result<Value, String> {
    let url = text(part, "/image_url/url").ok_or_else(|| format!("`{at}.image_url.url` is missing"))?;
    if let Some((media, data)) = data_url(url) {
        return Ok(json!({"inlineData": {"mimeType": media, "data": data}}));
    }
    if is_http(url) {
        let mut file = json!({"fileUri": url});
        if let Some(media) = image_type_of(url) {
            file["mimeType"] = json!(media);
        }
        return Ok(json!({"fileData": file}));
    }
    Err(format!(
        "`{at}.image_url.url`: only base64 `data:` URLs and http(s) URLs are translated"
    ))
}

/// An OpenAI `file` part holding a PDF inline as a Gemini `inlineData` part (Gemini parts have
/// no name: `filename` is dropped).
pub fn gemini_document(part: &Value, at: &str) -> Result<Value, String> {
    let data = pdf_data(part, at)?;
    Ok(json!({"inlineData": {"mimeType": "application/pdf", "data": data}}))
}

/// The image type a URL's path ends in, among those Gemini reads.
fn image_type_of(url: &str) -> Option<&'static str> {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let extension = path.rsplit_once('.')?.1.to_ascii_lowercase();
    Some(match extension.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "webp" => "image/webp",
        "gif" => "image/gif",
        "heic" => "image/heic",
        "heif" => "image/heif",
        _ => return None,
    })
}

/// An Anthropic `image` block as an OpenAI `image_url` part.
pub fn image_part(block: &Value, at: &str) -> Result<Value, String> {
    let url = match text(block, "/source/type") {
        Some("base64") => {
            let media = text(block, "/source/media_type").unwrap_or("");
            let data = text(block, "/source/data").unwrap_or("");
            format!("data:{media};base64,{data}")
        }
        Some("url") => text(block, "/source/url").unwrap_or("").to_string(),
        other => {
            let kind = other.unwrap_or("missing");
            return Err(format!("`{at}.source.type`: `{kind}` image sources are not translated"));
        }
    };
    Ok(json!({"type": "image_url", "image_url": {"url": url}}))
}

/// An Anthropic `document` block as an OpenAI part: a base64 PDF as a `file` part (its `title`
/// as the `filename`, which OpenAI requires with `file_data`), plain text as a `text` part.
pub fn document_part(block: &Value, at: &str) -> Result<Value, String> {
    match (text(block, "/source/type"), text(block, "/source/media_type")) {
        (Some("base64"), Some("application/pdf")) => {
            let data = text(block, "/source/data").unwrap_or("");
            let name = text(block, "/title").unwrap_or("document.pdf");
            Ok(
                json!({"type": "file", "file": {"filename": name, "file_data": format!("data:application/pdf;base64,{data}")}}),
            )
        }
        (Some("text"), _) => Ok(json!({"type": "text", "text": text(block, "/source/data").unwrap_or("")})),
        (kind, _) => {
            let kind = kind.unwrap_or("missing");
            Err(format!(
                "`{at}.source`: only base64 PDF and plain-text documents are translated, not `{kind}` sources"
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &str =
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGNgYGD4DwABBAEAwS2OUAAAAABJRU5ErkJggg==";

    #[test]
    fn image_data_urls_become_base64_sources_and_back() {
        let part = json!({"type": "image_url", "image_url": {"url": format!("data:image/png;base64,{PNG}"), "detail": "high"}});
        let block = image_block(&part, "messages[0].content[1]").unwrap();
        assert_eq!(
            block,
            json!({"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}})
        );
        assert_eq!(
            image_part(&block, "messages[0].content[1]").unwrap(),
            json!({"type": "image_url", "image_url": {"url": format!("data:image/png;base64,{PNG}")}})
        );
    }

    #[test]
    fn image_web_urls_become_url_sources_and_back() {
        let url = "https://upload.wikimedia.org/wikipedia/commons/a/a7/Camponotus_flavomarginatus_ant.jpg";
        let block = image_block(&json!({"type": "image_url", "image_url": {"url": url}}), "m").unwrap();
        assert_eq!(block, json!({"type": "image", "source": {"type": "url", "url": url}}));
        assert_eq!(
            image_part(&block, "m").unwrap(),
            json!({"type": "image_url", "image_url": {"url": url}})
        );
    }

    #[test]
    fn other_image_sources_are_refused_by_name() {
        let err = image_block(
            &json!({"type": "image_url", "image_url": {"url": "file:///etc/passwd"}}),
            "messages[2].content[0]",
        );
        assert_eq!(
            err.unwrap_err(),
            "`messages[2].content[0].image_url.url`: only base64 `data:` URLs and http(s) URLs are translated"
        );
        let plain = image_block(
            &json!({"type": "image_url", "image_url": {"url": "data:image/png,abc"}}),
            "p",
        );
        assert!(plain.unwrap_err().starts_with("`p.image_url.url`"));
        let file = json!({"type": "image", "source": {"type": "file", "file_id": "file_011"}});
        assert_eq!(
            image_part(&file, "messages[0].content[0]").unwrap_err(),
            "`messages[0].content[0].source.type`: `file` image sources are not translated"
        );
    }

    #[test]
    fn pdfs_travel_as_file_data_and_documents() {
        let part = json!({"type": "file", "file": {"filename": "report.pdf", "file_data": "data:application/pdf;base64,JVBERi0x"}});
        let block = document_block(&part, "m").unwrap();
        assert_eq!(
            block,
            json!({"type": "document", "title": "report.pdf",
                   "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0x"}})
        );
        assert_eq!(document_part(&block, "m").unwrap(), part);
        let text = json!({"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "hello"}});
        assert_eq!(
            document_part(&text, "m").unwrap(),
            json!({"type": "text", "text": "hello"})
        );
    }

    #[test]
    fn gemini_reads_images_inline_or_by_uri_and_pdfs_inline() {
        let inline = json!({"type": "image_url", "image_url": {"url": format!("data:image/png;base64,{PNG}")}});
        assert_eq!(
            gemini_image(&inline, "m").unwrap(),
            json!({"inlineData": {"mimeType": "image/png", "data": PNG}})
        );
        for (url, media) in [
            ("https://example.com/a/cat.JPG?size=large#top", Some("image/jpeg")),
            ("http://example.com/b.webp", Some("image/webp")),
            ("https://example.com/render?id=7", None),
            ("https://example.com/archive.tar.gz", None),
        ] {
            let mut expected = json!({"fileData": {"fileUri": url}});
            if let Some(media) = media {
                expected["fileData"]["mimeType"] = json!(media);
            }
            let part = json!({"type": "image_url", "image_url": {"url": url}});
            assert_eq!(gemini_image(&part, "m").unwrap(), expected, "{url}");
        }
        let pdf = json!({"type": "file", "file": {"filename": "report.pdf", "file_data": "data:application/pdf;base64,JVBERi0x"}});
        assert_eq!(
            gemini_document(&pdf, "m").unwrap(),
            json!({"inlineData": {"mimeType": "application/pdf", "data": "JVBERi0x"}})
        );
        let ftp = json!({"type": "image_url", "image_url": {"url": "ftp://example.com/a.png"}});
        assert!(gemini_image(&ftp, "p").unwrap_err().starts_with("`p.image_url.url`"));
        let uploaded = json!({"type": "file", "file": {"file_id": "file-abc"}});
        assert!(
            gemini_document(&uploaded, "p")
                .unwrap_err()
                .starts_with("`p.file.file_id`")
        );
    }

    #[test]
    fn uploaded_files_and_other_media_are_refused() {
        let uploaded = json!({"type": "file", "file": {"file_id": "file-abc"}});
        assert!(
            document_block(&uploaded, "messages[1].content[0]")
                .unwrap_err()
                .starts_with("`messages[1].content[0].file.file_id`")
        );
        let csv = json!({"type": "file", "file": {"file_data": "data:text/csv;base64,YSxi", "filename": "a.csv"}});
        assert!(document_block(&csv, "m").unwrap_err().starts_with("`m.file.file_data`"));
        let url = json!({"type": "document", "source": {"type": "url", "url": "https://example.com/a.pdf"}});
        assert!(document_part(&url, "m").unwrap_err().contains("not `url` sources"));
    }
}
