//! The web view served by onshi itself (`cli/web/`, embedded; plain HTML, CSS and JavaScript, nothing fetched from
//! the network): at `/` the operator console — the clock, the scenarios, the live request journal with requests and
//! answers side by side. It calls the admin API like any client (the operator token is asked for in strict mode).

use actix_web::{web, HttpResponse};

use onshi_platform::roles::{route, Access, RouteAccess};

const CONSOLE: &str = include_str!("../web/console.html");
const APP_JS: &str = include_str!("../web/app.js");
const APP_CSS: &str = include_str!("../web/app.css");
const TERMINAL: &str = include_str!("../web/terminal.html");
const TERMINAL_JS: &str = include_str!("../web/terminal.js");
const READER: &str = include_str!("../web/reader.html");
const READER_JS: &str = include_str!("../web/reader.js");
const PORTAL: &str = include_str!("../web/portal.html");
const PORTAL_JS: &str = include_str!("../web/portal.js");

/// Who may load the pages (their data comes from the admin API, which checks its own roles).
pub const ROUTES: &[RouteAccess] = &[
    route("GET", "/", Access::Public),
    route("GET", "/ui/app.js", Access::Public),
    route("GET", "/ui/app.css", Access::Public),
    route("GET", "/ui/terminal", Access::Public),
    route("GET", "/ui/terminal.js", Access::Public),
    route("GET", "/ui/personas.json", Access::Public),
    route("GET", "/ui/reader", Access::Public),
    route("GET", "/ui/reader.js", Access::Public),
    route("GET", "/ui/portal", Access::Public),
    route("GET", "/ui/portal.js", Access::Public),
];

pub fn configure(cfg: &mut web::ServiceConfig) {
    const HTML: &str = "text/html; charset=utf-8";
    const JS: &str = "text/javascript; charset=utf-8";
    for (path, body, kind) in [
        ("/", CONSOLE, HTML),
        ("/ui/app.js", APP_JS, JS),
        ("/ui/app.css", APP_CSS, "text/css; charset=utf-8"),
        ("/ui/terminal", TERMINAL, HTML),
        ("/ui/terminal.js", TERMINAL_JS, JS),
        ("/ui/reader", READER, HTML),
        ("/ui/reader.js", READER_JS, JS),
        ("/ui/portal", PORTAL, HTML),
        ("/ui/portal.js", PORTAL_JS, JS),
    ] {
        cfg.route(path, web::get().to(move || page(body, kind)));
    }
    cfg.route("/ui/personas.json", web::get().to(personas));
}

async fn page(body: &'static str, content_type: &'static str) -> HttpResponse {
    HttpResponse::Ok().content_type(content_type).body(body)
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
