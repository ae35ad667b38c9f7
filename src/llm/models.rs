//! `GET /v1/models`: the models this caller may use, in the shape of the SDK asking (Anthropic's
//! when the request carries `anthropic-version`, else OpenAI's). Named models of each entry as
//! `<entry>/<model>`, and the virtual models; an entry that passes any name through (`["*"]`)
//! has none to list.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::response::Response;
use http::{HeaderMap, StatusCode};
use serde_json::{Value, json};

use super::Llm;
use super::api::{self, Family};
use super::call::caller;
use crate::authz::Target;
use crate::config::ModelSet;
use crate::identity::Requester;

/// One listed model: its id, and the target policies decide on.
struct Listed<'a> {
    id: String,
    entry: &'a str,
    name: &'a str,
    provider: &'a str,
}

pub async fn list(State(llm): State<Arc<Llm>>, who: Requester, headers: HeaderMap) -> Response {
    let family = family(&headers);
    let models: Vec<Value> = llm.visible(&who).iter().map(|m| describe(family, m)).collect();
    let body = match family {
        Family::OpenAi => json!({"object": "list", "data": models}),
        Family::Anthropic => {
            let id = |m: Option<&Value>| m.and_then(|m| m.get("id")).cloned().unwrap_or(Value::Null);
            json!({"data": models, "has_more": false, "first_id": id(models.first()), "last_id": id(models.last())})
        }
    };
    json(&body)
}

pub async fn one(
    State(llm): State<Arc<Llm>>,
    Path(model): Path<String>,
    who: Requester,
    headers: HeaderMap,
) -> Response {
    let family = family(&headers);
    match llm.visible(&who).iter().find(|m| m.id == model) {
        Some(found) => json(&describe(family, found)),
        None => api::error(
            family,
            StatusCode::NOT_FOUND,
            &format!("The model `{model}` does not exist or you do not have access to it."),
        ),
    }
}

fn json(value: &Value) -> Response {
    crate::error::json_response(StatusCode::OK, serde_json::to_vec(value).unwrap_or_default())
}

fn family(headers: &HeaderMap) -> Family {
    if headers.contains_key("anthropic-version") {
        Family::Anthropic
    } else {
        Family::OpenAi
    }
}

fn describe(family: Family, model: &Listed<'_>) -> Value {
    match family {
        Family::OpenAi => json!({"id": model.id, "object": "model", "created": 0, "owned_by": model.provider}),
        Family::Anthropic => json!({
            "type": "model",
            "id": model.id,
            "display_name": model.id,
            "created_at": "1970-01-01T00:00:00Z",
        }),
    }
}

impl Llm {
    /// Every listable model the policies let this caller use with some request.
    fn visible(&self, who: &Requester) -> Vec<Listed<'_>> {
        let mut all = Vec::new();
        for provider in &self.providers {
            if let ModelSet::Listed(models) = &provider.spec.models {
                for model in models {
                    all.push(Listed {
                        id: format!("{}/{model}", provider.name()),
                        entry: provider.name(),
                        name: model,
                        provider: provider.spec.kind.id(),
                    });
                }
            }
        }
        for name in self.virtual_models.keys() {
            all.push(Listed {
                id: name.clone(),
                entry: "",
                name,
                provider: "virtual",
            });
        }
        let Some(gate) = &self.security.gate else {
            return all;
        };
        let caller = caller(who, "/v1/models");
        let targets: Vec<Target<'_>> = all
            .iter()
            .map(|m| match m.entry {
                "" => Target::virtual_model(m.name),
                entry => Target::model(entry, m.name, m.provider),
            })
            .collect();
        let shown = gate.visible(&caller, &targets);
        all.into_iter()
            .zip(shown)
            .filter_map(|(m, shown)| shown.then_some(m))
            .collect()
    }
}
