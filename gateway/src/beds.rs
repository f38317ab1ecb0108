//! The demo backend, `CheckBedAvailability`: bed counts by hospital and ward, as JSON. Each answer
//! also says who the gateway said the caller is (`caller`, from the identity headers).

use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use tokio::net::TcpListener;

use crate::pipeline::forward::{
    APPLICATION_HEADER, CLIENT_ID_HEADER, SCOPES_HEADER, SUBJECT_HEADER,
};

struct Ward {
    name: &'static str,
    total: u32,
    available: u32,
}

struct Hospital {
    id: &'static str,
    name: &'static str,
    wards: &'static [Ward],
}

const HOSPITALS: &[Hospital] = &[
    Hospital {
        id: "st-marys",
        name: "St Mary's General",
        wards: &[
            Ward {
                name: "icu",
                total: 12,
                available: 2,
            },
            Ward {
                name: "maternity",
                total: 30,
                available: 11,
            },
            Ward {
                name: "general",
                total: 120,
                available: 37,
            },
        ],
    },
    Hospital {
        id: "riverside",
        name: "Riverside Community Hospital",
        wards: &[
            Ward {
                name: "icu",
                total: 6,
                available: 0,
            },
            Ward {
                name: "paediatrics",
                total: 20,
                available: 5,
            },
            Ward {
                name: "general",
                total: 64,
                available: 9,
            },
        ],
    },
];

fn caller(headers: &HeaderMap) -> Value {
    let h = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    json!({
        "application": h(APPLICATION_HEADER),
        "subject": h(SUBJECT_HEADER),
        "client_id": h(CLIENT_ID_HEADER),
        "scopes": h(SCOPES_HEADER),
    })
}

fn ward_json(w: &Ward) -> Value {
    json!({ "ward": w.name, "total": w.total, "available": w.available })
}

async fn hospitals(headers: HeaderMap) -> Json<Value> {
    let list: Vec<Value> = HOSPITALS
        .iter()
        .map(|h| {
            json!({
                "id": h.id,
                "name": h.name,
                "available": h.wards.iter().map(|w| w.available).sum::<u32>(),
            })
        })
        .collect();
    Json(json!({ "hospitals": list, "caller": caller(&headers) }))
}

fn find(id: &str) -> Option<&'static Hospital> {
    HOSPITALS.iter().find(|h| h.id == id)
}

async fn wards(Path(id): Path<String>, headers: HeaderMap) -> impl IntoResponse {
    match find(&id) {
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": "no such hospital" })),
        ),
        Some(h) => (
            StatusCode::OK,
            Json(json!({
                "hospital": h.id,
                "name": h.name,
                "wards": h.wards.iter().map(ward_json).collect::<Vec<_>>(),
                "caller": caller(&headers),
            })),
        ),
    }
}

async fn ward(Path((id, ward)): Path<(String, String)>, headers: HeaderMap) -> impl IntoResponse {
    match find(&id).and_then(|h| h.wards.iter().find(|w| w.name == ward).map(|w| (h, w))) {
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": "no such ward" })),
        ),
        Some((h, w)) => {
            let mut v = ward_json(w);
            v["hospital"] = json!(h.id);
            v["caller"] = caller(&headers);
            (StatusCode::OK, Json(v))
        }
    }
}

async fn reserve(
    Path((id, ward)): Path<(String, String)>,
    headers: HeaderMap,
) -> impl IntoResponse {
    match find(&id).and_then(|h| h.wards.iter().find(|w| w.name == ward)) {
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": "no such ward" })),
        ),
        Some(w) if w.available == 0 => (
            StatusCode::CONFLICT,
            Json(json!({ "error": "no bed available" })),
        ),
        Some(w) => (
            StatusCode::CREATED,
            Json(
                json!({ "hospital": id, "ward": w.name, "reserved": true, "caller": caller(&headers) }),
            ),
        ),
    }
}

/// The backend's routes.
pub fn router() -> Router {
    Router::new()
        .route("/hospitals", get(hospitals))
        .route("/hospitals/{id}/wards", get(wards))
        .route("/hospitals/{id}/wards/{ward}", get(ward))
        .route("/hospitals/{id}/wards/{ward}/reservations", post(reserve))
}

/// A running backend.
#[derive(Debug)]
pub struct BedsHandle {
    addr: std::net::SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl BedsHandle {
    /// `http://ADDR`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for BedsHandle {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves the backend on `listener`.
pub fn start(listener: TcpListener) -> std::io::Result<BedsHandle> {
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, router()).await;
    });
    Ok(BedsHandle { addr, task })
}
