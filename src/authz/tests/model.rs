//! `call_model`: models as resources (entry models under their upstream, virtual models alone),
//! the LLM request's fields in the context, lists that keep what some request may use, and
//! remembered decisions that follow the token counts policies read.

use super::*;

fn engine(policies: &str) -> Authz {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.cedar"), policies).unwrap();
    Authz::load_now(dir.path(), Vec::new(), Arguments::default()).unwrap()
}

fn llm_caller(groups: &[&str]) -> Caller {
    Caller {
        endpoint: "/v1/chat/completions".into(),
        version: "",
        ..caller(PrincipalKind::User, "bob", groups, "10.1.1.1")
    }
}

fn chat(estimated_tokens: u64) -> ModelCall<'static> {
    ModelCall {
        api: "chat",
        stream: false,
        estimated_tokens,
        max_tokens: 0,
        tools: 0,
    }
}

fn decide(authz: &Authz, caller: &Caller, target: Target<'_>, call: ModelCall<'_>) -> Arc<Verdict> {
    authz
        .decide(&Ask {
            caller,
            target,
            arguments: None,
            method: None,
            llm: Some(call),
        })
        .unwrap()
}

fn gpt() -> Target<'static> {
    Target::model("openai", "gpt-4.1", "openai")
}

fn claude() -> Target<'static> {
    Target::model("anthropic", "claude-haiku-4-5", "anthropic")
}

const ENG_OPENAI_8K: &str = r#"
@id("eng-openai")
permit (principal in Group::"eng", action == Action::"call_model", resource in Upstream::"openai");
@id("eng-8k")
forbid (principal in Group::"eng", action == Action::"call_model", resource)
when { context.estimated_tokens > 8000 };
"#;

#[test]
fn a_group_may_use_one_entry() {
    let authz = engine(ENG_OPENAI_8K);
    let eng = llm_caller(&["eng"]);
    let verdict = decide(&authz, &eng, gpt(), chat(100));
    assert!(verdict.allowed && verdict.policies == ["eng-openai"], "{verdict:?}");
    assert!(!decide(&authz, &eng, claude(), chat(100)).allowed);
    assert!(!decide(&authz, &llm_caller(&["sales"]), gpt(), chat(100)).allowed);
    // The same model name under another entry is another resource.
    assert!(
        !decide(
            &authz,
            &eng,
            Target::model("azure", "gpt-4.1", "azure-openai"),
            chat(100)
        )
        .allowed
    );
}

#[test]
fn a_token_limit_denies_above_and_allows_below() {
    let authz = engine(ENG_OPENAI_8K);
    let eng = llm_caller(&["eng"]);
    assert!(decide(&authz, &eng, gpt(), chat(8000)).allowed);
    let verdict = decide(&authz, &eng, gpt(), chat(8001));
    assert!(!verdict.allowed && verdict.policies == ["eng-8k"], "{verdict:?}");
    // Beyond Cedar's Long: as large as a policy can compare, never an error or a wrap.
    let verdict = decide(&authz, &eng, gpt(), chat(u64::MAX));
    assert!(!verdict.allowed && verdict.errors.is_empty(), "{verdict:?}");
}

#[test]
fn a_virtual_model_has_no_upstream() {
    let fast = Target::virtual_model("fast");
    assert_eq!(request::target_uid(&fast).to_string(), r#"Model::"fast""#);
    assert_eq!(request::target_uid(&gpt()).to_string(), r#"Model::"openai/gpt-4.1""#);
    let mut list = Vec::new();
    request::target_entities(&fast, true, &mut list).unwrap();
    assert_eq!(list.len(), 1, "no Upstream entity for a virtual model");
    let entities = request::entities(list).unwrap();
    let model = entities.get(&request::target_uid(&fast)).unwrap();
    assert_eq!(model.clone().into_inner().2.len(), 0, "no parent");

    let authz = engine(
        r#"@id("fast") permit (principal, action == Action::"call_model", resource == Model::"fast")
           when { resource.provider == "virtual" && resource.model == "fast" };
           @id("openai") permit (principal, action == Action::"call_model", resource in Upstream::"openai")
           when { resource.provider == "openai" && resource.model like "gpt-*" };"#,
    );
    let anyone = llm_caller(&[]);
    assert!(decide(&authz, &anyone, fast, chat(1)).allowed);
    assert!(!decide(&authz, &anyone, Target::virtual_model("pool"), chat(1)).allowed);
    // A virtual model is decided first, then each target it reaches as an ordinary model.
    assert!(decide(&authz, &anyone, gpt(), chat(1)).allowed);
    assert!(!decide(&authz, &anyone, Target::model("openai", "o3", "openai"), chat(1)).allowed);
}

#[test]
fn the_request_fields_are_read() {
    let authz = engine(
        r#"@id("all") permit (principal, action == Action::"call_model", resource);
           @id("no-streamed-messages") forbid (principal, action, resource)
           when { context.stream && context.api == "messages" };
           @id("few-tools") forbid (principal, action, resource) when { context.tools > 3 };
           @id("short-answers") forbid (principal, action, resource)
           when { context.api == "chat" && context.max_tokens > 4096 };
           @id("no-method") forbid (principal, action == Action::"call_model", resource)
           when { context.method != "" || context.era != "" };"#,
    );
    let anyone = llm_caller(&[]);
    let ask = |call: ModelCall<'_>| decide(&authz, &anyone, gpt(), call);
    let messages = ModelCall {
        api: "messages",
        ..chat(10)
    };
    assert!(ask(messages).allowed);
    let verdict = ask(ModelCall {
        stream: true,
        ..messages
    });
    assert_eq!(verdict.policies, ["no-streamed-messages"]);
    assert!(
        ask(ModelCall {
            stream: true,
            ..chat(10)
        })
        .allowed
    );
    assert_eq!(ask(ModelCall { tools: 4, ..chat(10) }).policies, ["few-tools"]);
    assert!(ask(ModelCall { tools: 3, ..chat(10) }).allowed);
    assert_eq!(
        ask(ModelCall {
            max_tokens: 5000,
            ..chat(10)
        })
        .policies,
        ["short-answers"]
    );
    assert!(
        ask(ModelCall {
            max_tokens: 5000,
            ..messages
        })
        .allowed
    );
}

#[test]
fn a_forbid_that_errors_denies_a_model_call() {
    let authz = engine(
        r#"@id("all") permit (principal, action, resource);
           @id("headroom") forbid (principal, action == Action::"call_model", resource)
           when { context.estimated_tokens + 1000 > 1000000 };"#,
    );
    let anyone = llm_caller(&[]);
    assert!(decide(&authz, &anyone, gpt(), chat(10)).allowed);
    // Saturated at Cedar's largest Long, the sum overflows: the forbid errors, and denies.
    let verdict = decide(&authz, &anyone, gpt(), chat(u64::MAX));
    assert!(!verdict.allowed && verdict.policies == ["headroom"], "{verdict:?}");
    assert!(verdict.errors[0].contains("headroom"), "{verdict:?}");
}

#[test]
fn a_call_model_ask_without_its_request_is_denied() {
    let authz = engine(r#"@id("all") permit (principal, action, resource);"#);
    let anyone = llm_caller(&[]);
    let verdict = authz
        .decide(&Ask {
            caller: &anyone,
            target: gpt(),
            arguments: None,
            method: None,
            llm: None,
        })
        .unwrap();
    assert!(!verdict.allowed && verdict.errors[0].contains("missing"), "{verdict:?}");
    // A model asked about with a tool's attributes, or a tool with a model's: denied, not misread.
    let mut mistaken = gpt();
    mistaken.attrs = Attrs::None;
    assert!(!decide(&authz, &anyone, mistaken, chat(1)).allowed);
    let mut mistaken = gpt();
    mistaken.action = Action::CallTool;
    assert!(!decide(&authz, &anyone, mistaken, chat(1)).allowed);
    assert_eq!(authz.visible(&anyone, &[mistaken]), vec![false]);
}

#[test]
fn policies_without_an_action_scope_still_validate() {
    let authz = engine(
        r#"@id("era") permit (principal, action, resource) when { context.era == "2025-11-25" };
           @id("no-llm-fields-elsewhere") forbid (principal, action, resource)
           when { context.api != "" && resource is Tool };
           @id("tool-zeros") forbid (principal, action, resource)
           when { resource is Tool && (context.stream || context.tools + context.estimated_tokens + context.max_tokens != 0) };"#,
    );
    // MCP actions get `api == ""`, `stream == false` and zeros.
    let mcp = caller(PrincipalKind::User, "bob", &["eng"], "10.1.1.1");
    let verdict = authz
        .decide(&Ask {
            caller: &mcp,
            target: Target {
                action: Action::CallTool,
                upstream: "github",
                name: "get_issue",
                attrs: Attrs::Tool(ToolHints::default()),
            },
            arguments: None,
            method: None,
            llm: None,
        })
        .unwrap();
    assert!(verdict.allowed && verdict.errors.is_empty(), "{verdict:?}");
    // An LLM route has no era: the MCP-era permit does not apply to it.
    assert!(!decide(&authz, &llm_caller(&["eng"]), gpt(), chat(1)).allowed);
}

#[test]
fn lists_keep_models_some_request_may_use() {
    let authz = engine(
        r#"@id("openai-8k") permit (principal, action == Action::"call_model", resource in Upstream::"openai")
           when { context.estimated_tokens < 8000 };
           @id("virtual") permit (principal, action == Action::"call_model", resource is Model)
           when { resource.provider == "virtual" };
           @id("no-fast-streams") forbid (principal, action, resource == Model::"fast") when { context.stream };
           @id("no-o3") forbid (principal, action, resource == Model::"openai/o3");
           @id("tools") permit (principal, action == Action::"call_tool", resource);"#,
    );
    let anyone = llm_caller(&[]);
    let targets = [
        gpt(),
        Target::model("openai", "o3", "openai"),
        claude(),
        Target::virtual_model("fast"),
        Target::virtual_model("pool"),
        Target {
            action: Action::CallTool,
            upstream: "github",
            name: "get_issue",
            attrs: Attrs::Tool(ToolHints::default()),
        },
    ];
    assert_eq!(
        authz.visible(&anyone, &targets),
        vec![true, false, false, true, true, true]
    );
    // And each listed model is what some single request is allowed.
    assert!(decide(&authz, &anyone, gpt(), chat(10)).allowed);
    assert!(!decide(&authz, &anyone, gpt(), chat(9000)).allowed);
    assert!(decide(&authz, &anyone, Target::virtual_model("fast"), chat(10)).allowed);
    assert!(
        !decide(
            &authz,
            &anyone,
            Target::virtual_model("fast"),
            ModelCall {
                stream: true,
                ..chat(10)
            }
        )
        .allowed
    );
}

#[test]
fn remembered_decisions_follow_the_token_counts_policies_read() {
    let authz = engine(ENG_OPENAI_8K);
    let eng = llm_caller(&["eng"]);
    for _ in 0..2 {
        assert!(decide(&authz, &eng, gpt(), chat(100)).allowed);
        assert!(!decide(&authz, &eng, gpt(), chat(9000)).allowed);
    }
    let needs = &authz.loaded().unwrap().needs;
    assert!(needs.tokens);
    let ask = |call| Ask {
        caller: &eng,
        target: gpt(),
        arguments: None,
        method: None,
        llm: Some(call),
    };
    assert_ne!(
        memo::Memo::key(&ask(chat(100)), needs),
        memo::Memo::key(&ask(chat(9000)), needs)
    );
    // No policy reads the counts: one decision serves every count; the API still tells apart.
    let other = engine(r#"permit (principal, action, resource) when { context.api == "chat" };"#);
    let needs = &other.loaded().unwrap().needs;
    assert!(!needs.tokens);
    assert_eq!(
        memo::Memo::key(&ask(chat(100)), needs),
        memo::Memo::key(&ask(chat(9000)), needs)
    );
    let embeddings = ModelCall {
        api: "embeddings",
        ..chat(100)
    };
    assert_ne!(
        memo::Memo::key(&ask(chat(100)), needs),
        memo::Memo::key(&ask(embeddings), needs)
    );
    assert!(decide(&other, &eng, gpt(), chat(100)).allowed);
    assert!(!decide(&other, &eng, gpt(), embeddings).allowed);
}

#[test]
fn what_policies_read_of_an_llm_request() {
    let needs = |text: &str| request::Needs::of(&text.parse().unwrap());
    assert!(needs(r#"permit (principal, action, resource) when { context.max_tokens < 10 };"#).tokens);
    assert!(needs(r#"permit (principal, action, resource) when { context has estimated_tokens };"#).tokens);
    assert!(!needs(r#"permit (principal, action, resource) when { context.tools < 10 && context.stream };"#).tokens);
}
