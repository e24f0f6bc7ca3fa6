//! Unauthenticated operational routes: liveness, readiness, metrics, the
//! OpenAPI document and the API reference page.

use crate::AppState;
use crate::openapi::ApiDoc;
use crate::problem::{ApiError, Problems};
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use utoipa::OpenApi;

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(crate::telemetry::metrics))
        .route("/openapi.json", get(openapi_json))
        .route("/docs", get(docs))
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "system",
    responses((status = 200, description = "ok", body = String, content_type = "text/plain")))]
pub(crate) async fn healthz() -> &'static str {
    "ok"
}

/// Readiness: the store is reachable.
#[utoipa::path(get, path = "/readyz", tag = "system",
    responses((status = 200, description = "ready", body = String, content_type = "text/plain"), Problems))]
pub(crate) async fn readyz(State(state): State<AppState>) -> Result<&'static str, ApiError> {
    state.core.ping().await.map_err(|e| {
        tracing::warn!("readiness check failed: {e}");
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            "the store is not reachable",
        )
    })?;
    Ok("ready")
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "system",
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json")))]
pub(crate) async fn openapi_json(State(state): State<AppState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        state.openapi.clone(),
    )
        .into_response()
}

/// A self-contained API reference page rendered from the OpenAPI document.
#[utoipa::path(get, path = "/docs", tag = "system",
    responses((status = 200, description = "HTML API reference", content_type = "text/html")))]
pub(crate) async fn docs() -> Html<&'static str> {
    Html(DOCS_HTML)
}

/// The spec as served (pretty JSON), built once.
pub(crate) fn openapi_document() -> String {
    ApiDoc::openapi()
        .to_pretty_json()
        .unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}

/// No CDN: a small inline script fetches `/openapi.json` and lists every
/// operation with its parameters, request body and responses.
const DOCS_HTML: &str = r##"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Warden API reference</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
h1{margin-bottom:0}.op{border:1px solid #ddd;border-radius:6px;margin:1rem 0;padding:.5rem 1rem}
.m{display:inline-block;min-width:4.5rem;font-weight:bold;text-transform:uppercase}
.get{color:#1565c0}.post{color:#2e7d32}.put{color:#ef6c00}.patch{color:#6a1b9a}.delete{color:#c62828}
code,pre{font:13px ui-monospace,monospace;background:#f6f6f6}pre{padding:.5rem;overflow:auto;max-height:20rem}
details summary{cursor:pointer}small{color:#666}
</style></head><body>
<h1>Warden API</h1><p id="info">Loading <a href="/openapi.json">/openapi.json</a>…</p><div id="ops"></div>
<script>
const esc = s => String(s ?? "").replace(/[&<>"]/g, c => ({"&":"&amp;","<":"&lt;",">":"&gt;",'"':"&quot;"}[c]));
fetch("/openapi.json").then(r => r.json()).then(spec => {
  document.getElementById("info").innerHTML = esc(spec.info.description || "") +
    ` <small>version ${esc(spec.info.version)} · <a href="/openapi.json">openapi.json</a></small>`;
  const out = [];
  for (const [path, item] of Object.entries(spec.paths)) {
    for (const [method, op] of Object.entries(item)) {
      const params = (op.parameters || []).map(p =>
        `<li><code>${esc(p.name)}</code> <small>(${esc(p.in)}${p.required ? ", required" : ""})</small> ${esc(p.description)}</li>`).join("");
      const body = op.requestBody ? Object.entries(op.requestBody.content || {}).map(([t, c]) =>
        `<details><summary>Request body <code>${esc(t)}</code></summary><pre>${esc(JSON.stringify(c.schema, null, 2))}</pre></details>`).join("") : "";
      const responses = Object.entries(op.responses || {}).map(([s, r]) =>
        `<li><code>${esc(s)}</code> ${esc(r.description)}</li>`).join("");
      const auth = op.security ? ` <small>auth: ${esc(op.security.map(s => Object.keys(s)).flat().join(", "))}</small>` : "";
      out.push(`<div class="op"><span class="m ${esc(method)}">${esc(method)}</span><code>${esc(path)}</code>${auth}
        <p>${esc(op.summary || "")} ${esc(op.description || "")}</p>
        ${params ? `<b>Parameters</b><ul>${params}</ul>` : ""}${body}
        <details><summary>Responses</summary><ul>${responses}</ul></details></div>`);
    }
  }
  out.push(`<details><summary>Schemas</summary><pre>${esc(JSON.stringify(spec.components?.schemas, null, 2))}</pre></details>`);
  document.getElementById("ops").innerHTML = out.join("");
}).catch(e => { document.getElementById("info").textContent = "Could not load /openapi.json: " + e; });
</script>
<noscript><p>This page needs JavaScript; the raw document is at <a href="/openapi.json">/openapi.json</a>.</p></noscript>
</body></html>
"##;
