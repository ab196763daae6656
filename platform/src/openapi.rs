//! The OpenAPI 3.1 document of a process, generated from its route tables (every route declares method, path and
//! role once, `platform::roles`): paths with their parameters, the role as a security requirement, the request body's
//! media type, and the error shape every JSON route shares. Served at `/openapi.json`, browsable at `/docs` (linked
//! from the console at `/`).

use actix_web::{web, HttpResponse};
use serde_json::{json, Map, Value};

use crate::roles::{route, Access, RouteAccess};

/// The document, built once when the process starts.
pub struct Document(pub Vec<u8>);

/// The media type of a route's request body.
fn request_media(method: &str, path: &str) -> Option<&'static str> {
    if !matches!(method, "POST" | "PUT" | "PATCH") {
        return None;
    }
    Some(if path.starts_with("/oqs/v1/req/") {
        "application/xml"
    } else if path == "/medication/v1/claims" {
        "application/octet-stream"
    } else if path == "/checkup/v1/submissions" {
        "application/zip"
    } else if path == "/insurer/v1/bulk" {
        "application/x-ndjson"
    } else {
        "application/json"
    })
}

fn security(access: Access) -> Value {
    match access {
        Access::Public => json!([]),
        Access::Message => json!([{"terminalCertificate": []}, {"idToken": []}, {}]),
        Access::OwnFacility | Access::Facility => json!([{"terminalCertificate": []}]),
        Access::Insurer => json!([{"insurerCredential": []}, {"operatorToken": []}]),
        Access::OwnPatient => json!([{"patientToken": []}, {"operatorToken": []}]),
        Access::Operator => json!([{"operatorToken": []}]),
    }
}

fn operation_id(method: &str, path: &str) -> String {
    let mut id = method.to_lowercase();
    for part in path.split('/').filter(|p| !p.is_empty()) {
        id.push('_');
        id.extend(
            part.chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }),
        );
    }
    id.trim_end_matches('_').to_string()
}

/// The document of these routes.
pub fn document(routes: &[RouteAccess], version: &str) -> Value {
    let mut paths = Map::new();
    for r in routes {
        let path = r.path.as_ref();
        let method = r.method.to_lowercase();
        let params: Vec<Value> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
            .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
            .collect();
        let tag = path.split('/').nth(1).unwrap_or("root");
        let mut op = json!({
            "operationId": operation_id(r.method, path),
            "summary": format!("{} {path} ({:?})", r.method, r.access),
            "tags": [tag],
            "security": security(r.access),
            "responses": {
                "200": {"description": "the answer (JSON, or the response file for request files)"},
                "400": {"$ref": "#/components/responses/Error"},
                "401": {"$ref": "#/components/responses/Error"},
                "403": {"$ref": "#/components/responses/Error"},
                "404": {"$ref": "#/components/responses/Error"},
                "413": {"$ref": "#/components/responses/Error"},
            },
        });
        if !params.is_empty() {
            op["parameters"] = Value::Array(params);
        }
        if let Some(media) = request_media(r.method, path) {
            let schema = if media == "application/json" {
                json!({"type": "object"})
            } else {
                json!({"type": "string", "contentMediaType": media})
            };
            op["requestBody"] = json!({"required": false, "content": {media: {"schema": schema}}});
        }
        let item = paths
            .entry(path.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        item[method.as_str()] = op;
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "onshi — オンライン資格確認等システム simulator",
            "version": version,
            "description": "Every HTTP route of this process, generated from its route tables. Request files \
                (POST /oqs/v1/req/{file_name}) carry the XML messages; their XSDs are under /xsd/. Roles: \
                docs/SECURITY.md; controls: docs/CONTROLS.md.",
        },
        "paths": paths,
        "components": {
            "securitySchemes": {
                "operatorToken": {"type": "http", "scheme": "bearer", "description": "<home>/operator-token"},
                "insurerCredential": {"type": "http", "scheme": "bearer", "description": "issued by the portal to an insurer"},
                "patientToken": {"type": "http", "scheme": "bearer", "description": "POST /consent/v1/patients/login"},
                "idToken": {"type": "apiKey", "in": "header", "name": "Authorization", "description": "the Web API's idToken"},
                "terminalCertificate": {"type": "mutualTLS", "description": "a terminal certificate of the simulator's CA, on the TLS listener"},
            },
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {"error": {
                        "type": "object",
                        "required": ["code", "message"],
                        "properties": {
                            "code": {"type": "string"},
                            "message": {"type": "string"},
                            "details": {"type": "array", "items": {"type": "string"}},
                        },
                    }},
                },
            },
            "responses": {
                "Error": {
                    "description": "refused: {\"error\":{\"code\",\"message\"}}",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                },
            },
        },
    })
}

/// Who may call the document routes.
pub const ROUTES: &[RouteAccess] = &[
    route("GET", "/openapi.json", Access::Public),
    route("GET", "/docs", Access::Public),
    route("GET", "/xsd/", Access::Public),
    route("GET", "/xsd/{name}", Access::Public),
];

/// `/openapi.json`, `/docs` and `/xsd/` (needs `web::Data<Document>`).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/openapi.json", web::get().to(openapi))
        .route("/docs", web::get().to(docs))
        .route("/xsd/", web::get().to(xsd_index))
        .route("/xsd/{name}", web::get().to(xsd));
}

/// The list of XSDs (`wire/xsd/`, generated from the messages: `onshi_wire::xsd`).
async fn xsd_index() -> HttpResponse {
    let mut html = String::from(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>onshi XSD</title></head><body>\
         <h1>XML Schemas</h1><p>One per message file, generated from the files the simulator reads and writes. \
         Validate with <code>xmllint --noout --schema OQSsiquc01req.xsd your-file.xml</code>.</p><ul>",
    );
    for (name, _) in onshi_wire::xsd::FILES {
        html.push_str(&format!("<li><a href=\"/xsd/{name}\">{name}</a></li>"));
    }
    html.push_str("</ul></body></html>");
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(html)
}

async fn xsd(name: web::Path<String>) -> HttpResponse {
    match onshi_wire::xsd::FILES
        .iter()
        .find(|(n, _)| *n == name.as_str())
    {
        Some((_, text)) => HttpResponse::Ok()
            .content_type("application/xml; charset=utf-8")
            .body(*text),
        None => HttpResponse::NotFound().json(json!({"error": {"code": "not_found",
            "message": format!("no schema {:?}; see /xsd/", name.as_str())}})),
    }
}

async fn openapi(doc: web::Data<Document>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(doc.0.clone())
}

async fn docs() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(DOCS)
}

const DOCS: &str = r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><title>onshi API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font-family:sans-serif;max-width:64em;margin:2em auto}td,th{padding:.2em .6em;text-align:left;border-bottom:1px solid #ddd}code{font-size:.95em}</style>
</head><body><h1>onshi API</h1><p>Generated from the route tables: <a href="/openapi.json">openapi.json</a> (OpenAPI 3.1).</p>
<table><thead><tr><th scope="col">method</th><th scope="col">path</th><th scope="col">who may call</th><th scope="col">body</th></tr></thead><tbody id="ops"></tbody></table>
<script>
fetch('/openapi.json').then(r => r.json()).then(doc => {
  const rows = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      const who = (op.security || []).map(s => Object.keys(s)[0] || 'anyone').join(' or ') || 'anyone';
      const body = op.requestBody ? Object.keys(op.requestBody.content)[0] : '';
      rows.push([op.tags[0], method.toUpperCase(), path, who, body]);
    }
  }
  rows.sort((a, b) => (a[0] + a[2]).localeCompare(b[0] + b[2]));
  const tbody = document.getElementById('ops');
  for (const r of rows) {
    const tr = document.createElement('tr');
    for (const [i, v] of r.slice(1).entries()) {
      const td = document.createElement('td');
      if (i === 1) { const c = document.createElement('code'); c.textContent = v; td.appendChild(c); } else { td.textContent = v; }
      tr.appendChild(td);
    }
    tbody.appendChild(tr);
  }
});
</script></body></html>"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_becomes_an_operation_with_its_parameters() {
        let routes = [
            route("GET", "/admin/v1/faults", Access::Operator),
            route("PUT", "/admin/v1/faults/{id}", Access::Operator),
            route("POST", "/oqs/v1/req/{file_name}", Access::Message),
        ];
        let d = document(&routes, "1");
        assert_eq!(d["openapi"], "3.1.0");
        let put = &d["paths"]["/admin/v1/faults/{id}"]["put"];
        assert_eq!(put["parameters"][0]["name"], "id");
        assert_eq!(put["security"][0]["operatorToken"], json!([]));
        assert!(put["requestBody"]["content"]["application/json"].is_object());
        let file = &d["paths"]["/oqs/v1/req/{file_name}"]["post"];
        assert!(file["requestBody"]["content"]["application/xml"].is_object());
        assert_eq!(
            operation_id("PUT", "/admin/v1/faults/{id}"),
            "put_admin_v1_faults__id"
        );
    }
}
