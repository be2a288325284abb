//! Answering the client after an authorization request, in its response mode: redirect with a
//! query or fragment, an auto-submitting form (`form_post`), or Okta's `okta_post_message`
//! page, which posts the flat response to its opener or parent window.

use super::authorize::{Reply, ResponseMode};

/// How the response reaches the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// A 302 to this URL.
    Redirect(String),
    /// An HTML page whose form posts `fields` to `action`.
    FormPost {
        action: String,
        fields: Vec<(String, String)>,
    },
    /// An HTML page that posts `fields` as a JSON object to `target_origin`.
    PostMessage {
        target_origin: String,
        fields: Vec<(String, String)>,
    },
}

fn encode(fields: &[(String, String)]) -> String {
    let mut ser = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in fields {
        ser.append_pair(k, v);
    }
    ser.finish()
}

/// Builds the delivery of `fields` (plus `state`) for `reply`.
pub fn deliver(reply: &Reply, mut fields: Vec<(String, String)>) -> Delivery {
    if let Some(state) = &reply.state {
        fields.push(("state".into(), state.clone()));
    }
    if !reply.issuer.is_empty() {
        fields.push(("iss".into(), reply.issuer.clone()));
    }
    match reply.mode {
        ResponseMode::Query => {
            let sep = if reply.redirect_uri.contains('?') {
                '&'
            } else {
                '?'
            };
            Delivery::Redirect(format!("{}{sep}{}", reply.redirect_uri, encode(&fields)))
        }
        ResponseMode::Fragment => {
            Delivery::Redirect(format!("{}#{}", reply.redirect_uri, encode(&fields)))
        }
        ResponseMode::FormPost => Delivery::FormPost {
            action: reply.redirect_uri.clone(),
            fields,
        },
        ResponseMode::OktaPostMessage => Delivery::PostMessage {
            target_origin: origin_of(&reply.redirect_uri),
            fields,
        },
    }
}

/// The origin of a registered redirect URI: where `okta_post_message` may post.
pub fn origin_of(uri: &str) -> String {
    url::Url::parse(uri)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_else(|_| "null".into())
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// JSON safe inside a `<script>`: no `<`, `>`, `&`, U+2028 or U+2029 survive literally.
fn script_json(value: &serde_json::Value) -> String {
    value
        .to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

/// The auto-submitting form, with a button for browsers without script.
pub fn form_post_page(action: &str, fields: &[(String, String)], nonce: &str) -> String {
    let inputs: String = fields
        .iter()
        .map(|(k, v)| {
            format!(
                "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                html_escape(k),
                html_escape(v)
            )
        })
        .collect();
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Signing in…</title></head>\
         <body><form method=\"post\" action=\"{}\">{inputs}<noscript><button type=\"submit\">Continue</button></noscript></form>\
         <script nonce=\"{nonce}\">document.forms[0].submit();</script></body></html>",
        html_escape(action)
    )
}

/// Okta's `okta_post_message` page: posts the flat response object to `window.opener` or
/// `window.parent`, only to the origin of the registered redirect URI.
pub fn post_message_page(target_origin: &str, fields: &[(String, String)], nonce: &str) -> String {
    let data: serde_json::Map<String, serde_json::Value> = fields
        .iter()
        .map(|(k, v)| {
            let value = if k == "expires_in" {
                v.parse::<u64>()
                    .map_or_else(|_| serde_json::json!(v), |n| serde_json::json!(n))
            } else {
                serde_json::json!(v)
            };
            (k.clone(), value)
        })
        .collect();
    let data = script_json(&serde_json::Value::Object(data));
    let origin = script_json(&serde_json::json!(target_origin));
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Signing in…</title></head><body>\
         <script nonce=\"{nonce}\">(function(){{var w=window.opener||window.parent;\
         w.postMessage({data},{origin});if(window.opener){{window.close();}}}})();</script></body></html>"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(mode: ResponseMode, uri: &str) -> Reply {
        Reply {
            redirect_uri: uri.into(),
            mode,
            state: Some("s 1".into()),
            issuer: String::new(),
        }
    }

    fn f(k: &str, v: &str) -> (String, String) {
        (k.into(), v.into())
    }

    #[test]
    fn query_and_fragment_keep_the_registered_uri() {
        assert_eq!(
            deliver(
                &reply(ResponseMode::Query, "https://a.example/cb?x=1"),
                vec![f("code", "c")]
            ),
            Delivery::Redirect("https://a.example/cb?x=1&code=c&state=s+1".into())
        );
        assert_eq!(
            deliver(
                &reply(ResponseMode::Fragment, "https://a.example/cb"),
                vec![f("error", "login_required")]
            ),
            Delivery::Redirect("https://a.example/cb#error=login_required&state=s+1".into())
        );
    }

    #[test]
    fn post_message_targets_the_redirect_origin_and_cannot_break_out() {
        let d = deliver(
            &reply(
                ResponseMode::OktaPostMessage,
                "https://spa.example:8443/app/cb",
            ),
            vec![
                f("code", "</script><script>x()</script>"),
                f("expires_in", "3600"),
            ],
        );
        let Delivery::PostMessage {
            target_origin,
            fields,
        } = d
        else {
            panic!("expected postMessage")
        };
        assert_eq!(target_origin, "https://spa.example:8443");
        let page = post_message_page(&target_origin, &fields, "n0nce");
        assert!(!page.contains("</script><script>x()"));
        assert!(page.contains("\\u003c/script\\u003e"));
        assert!(page.contains("\"expires_in\":3600"));
        assert!(page.contains("\"state\":\"s 1\""));
        assert!(page.contains("window.opener||window.parent"));
    }

    #[test]
    fn form_post_escapes_values() {
        let page = form_post_page("https://a.example/cb", &[f("state", "\"><x")], "n");
        assert!(page.contains("value=\"&quot;&gt;&lt;x\""));
    }
}
