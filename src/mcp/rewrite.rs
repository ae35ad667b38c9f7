//! URIs inside results: what an upstream calls `demo://doc/1` a federated client knows as
//! `agentmux://everything/demo://doc/1`, so the URIs it is handed must be the ones it can use.

use super::hub::Hub;
use crate::jsonrpc::{Raw, RawObject};

impl Hub {
    /// `resources/read`: each `contents[].uri` as the client knows it.
    pub(super) fn rewrite_read_result(&self, upstream: usize, result: Raw) -> Raw {
        self.rewrite_array(upstream, result, "contents", |_| true)
    }

    /// `tools/call`: `resource_link` content items point at resources the client may read next.
    /// An A2A agent's links are its files' own URLs, not resources agentmux serves: they stay.
    pub(super) fn rewrite_resource_links(&self, upstream: usize, result: Raw) -> Raw {
        if !result.get().contains("\"resource_link\"") {
            return result;
        }
        if matches!(
            self.upstream(upstream).spec.transport,
            crate::config::TransportSpec::Agent
        ) {
            return result;
        }
        self.rewrite_array(upstream, result, "content", |item| {
            item.str("type").ok().flatten().as_deref() == Some("resource_link")
        })
    }

    /// Rewrites `uri` in the items of `result[field]` that `select` picks. Anything it cannot
    /// parse is passed on unchanged: a URI left as the upstream wrote it is better than no result.
    fn rewrite_array(&self, upstream: usize, result: Raw, field: &str, select: impl Fn(&RawObject) -> bool) -> Raw {
        let Ok(mut object) = RawObject::parse(&result) else {
            return result;
        };
        let Some(items) = object.get(field) else {
            return result;
        };
        let Ok(mut items) = serde_json::from_str::<Vec<RawObject>>(items.get()) else {
            return result;
        };
        let mut changed = false;
        for item in items.iter_mut().filter(|i| select(i)) {
            if let Ok(Some(uri)) = item.str("uri") {
                let exposed = self.exposed_uri(upstream, &uri);
                if exposed != uri {
                    item.set_str("uri", &exposed);
                    changed = true;
                }
            }
        }
        if !changed {
            return result;
        }
        object.set(field, crate::jsonrpc::to_raw(&items));
        object.to_raw()
    }
}
