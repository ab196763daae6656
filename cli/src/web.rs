//! The web view served by onshi itself (`cli/web/`, embedded; plain HTML, CSS and JavaScript, nothing fetched from
//! the network): at `/` the operator console — the clock, the scenarios, the live request journal with requests and
//! answers side by side. It calls the admin API like any client (the operator token is asked for in strict mode).

use actix_web::{web, HttpResponse};

use onshi_platform::roles::{route, Access, RouteAccess};

const CONSOLE: &str = include_str!("../web/console.html");
const APP_JS: &str = include_str!("../web/app.js");
const APP_CSS: &str = include_str!("../web/app.css");

/// Who may load the pages (their data comes from the admin API, which checks its own roles).
pub const ROUTES: &[RouteAccess] = &[
    route("GET", "/", Access::Public),
    route("GET", "/ui/app.js", Access::Public),
    route("GET", "/ui/app.css", Access::Public),
];

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route(
        "/",
        web::get().to(|| page(CONSOLE, "text/html; charset=utf-8")),
    )
    .route(
        "/ui/app.js",
        web::get().to(|| page(APP_JS, "text/javascript; charset=utf-8")),
    )
    .route(
        "/ui/app.css",
        web::get().to(|| page(APP_CSS, "text/css; charset=utf-8")),
    );
}

async fn page(body: &'static str, content_type: &'static str) -> HttpResponse {
    HttpResponse::Ok().content_type(content_type).body(body)
}
