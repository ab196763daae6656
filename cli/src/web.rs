//! The web view served by onshi itself (`cli/web/`, embedded; plain HTML, CSS and JavaScript, nothing fetched from
//! the network; docs/TRAINING.md): `/` the operator console (clock, scenarios, batches, disasters, facilities,
//! controls, snapshots, the live journal, usage charts), `/ui/terminal` the 資格確認端末, `/ui/reader` the card reader,
//! `/ui/portal` the patient portal, `/ui/app` the マイナ資格確認アプリ. The pages call the public APIs like any client (the operator token is asked for
//! in strict mode).

use actix_web::{web, HttpResponse};

use onshi_platform::roles::{route, Access, RouteAccess};

/// The pages, each served whole: its stylesheet and scripts are put inline when the page is first asked for, so a
/// page is one request (in headless Chromium on two cores each further request cost 20–50 ms of the first render;
/// docs/PERFORMANCE.md).
const PAGES: &[(&str, &str)] = &[
    ("/", include_str!("../web/console.html")),
    ("/ui/terminal", include_str!("../web/terminal.html")),
    ("/ui/reader", include_str!("../web/reader.html")),
    ("/ui/portal", include_str!("../web/portal.html")),
    ("/ui/app", include_str!("../web/app.html")),
];

/// What the pages include, by the path they name it with.
const ASSETS: &[(&str, &str)] = &[
    ("/ui/app.css", include_str!("../web/app.css")),
    ("/ui/lang.js", include_str!("../web/lang.js")),
    ("/ui/app.js", include_str!("../web/app.js")),
    ("/ui/ops.js", include_str!("../web/ops.js")),
    ("/ui/terminal.js", include_str!("../web/terminal.js")),
    ("/ui/reader.js", include_str!("../web/reader.js")),
    ("/ui/portal.js", include_str!("../web/portal.js")),
    ("/ui/appflow.js", include_str!("../web/appflow.js")),
];

/// Who may load the pages (their data comes from the APIs, which check their own roles).
pub const ROUTES: &[RouteAccess] = &[
    route("GET", "/", Access::Public),
    route("GET", "/ui/terminal", Access::Public),
    route("GET", "/ui/personas.json", Access::Public),
    route("GET", "/ui/reader", Access::Public),
    route("GET", "/ui/portal", Access::Public),
    route("GET", "/ui/app", Access::Public),
];

/// A page with its stylesheet and scripts inline.
fn inline(html: &str) -> String {
    let mut out = html.to_string();
    for (path, body) in ASSETS {
        let (tag, open, close) = if path.ends_with(".css") {
            (
                format!(r#"<link rel="stylesheet" href="{path}">"#),
                "<style>",
                "</style>",
            )
        } else {
            (
                format!(r#"<script src="{path}"></script>"#),
                "<script>",
                "</script>",
            )
        };
        out = out.replace(&tag, &format!("{open}\n{body}{close}"));
    }
    out
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    static INLINED: std::sync::OnceLock<Vec<(&'static str, String)>> = std::sync::OnceLock::new();
    let pages = INLINED.get_or_init(|| {
        PAGES
            .iter()
            .map(|(path, html)| (*path, inline(html)))
            .collect()
    });
    for (path, body) in pages {
        let body: &'static str = body.as_str();
        cfg.route(
            path,
            web::get().to(move || async move {
                HttpResponse::Ok()
                    .content_type("text/html; charset=utf-8")
                    .body(body)
            }),
        );
    }
    cfg.route("/ui/personas.json", web::get().to(personas));
}

/// The demo personas of the terminal screen: the search keys of every ready `OQSsiquc01` request of the demo
/// (`seed/demo/requests/`), named by the file.
async fn personas() -> HttpResponse {
    let list: Vec<serde_json::Value> = onshi_seed::demo::FILES
        .iter()
        .filter_map(|(path, bytes)| {
            let name = path
                .strip_prefix("requests/OQSsiquc01req_")?
                .strip_suffix(".xml")?;
            let doc = onshi_wire::xml::parse(bytes, &Default::default()).ok()?;
            let mut fields = serde_json::Map::new();
            let header = doc.root.child("MessageHeader")?;
            let search = doc
                .root
                .child("MessageBody")?
                .child("QualificationConfirmSearchInfo")?;
            for e in header.children.iter().chain(&search.children) {
                fields.insert(e.name.clone(), e.text.trim().into());
            }
            Some(serde_json::json!({"name": name, "fields": fields}))
        })
        .collect();
    HttpResponse::Ok().json(list)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_page_is_served_whole() {
        for (path, html) in PAGES {
            let page = inline(html);
            assert!(
                !page.contains("src=\"/ui/") && !page.contains("href=\"/ui/app.css"),
                "{path} still names an asset"
            );
            assert!(
                page.contains("<style>") && page.contains("onshi-lang"),
                "{path}"
            );
        }
    }
}
