//! Attachment downloads are served as attachments under the uploaded name, with the pinned
//! content type, whatever the object claims to be.

use axum::http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::json;

use crate::support::*;

async fn fetch_with_headers(
    method: Method,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (StatusCode, HeaderMap) {
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;
    let client = Client::builder(TokioExecutor::new())
        .build_http::<http_body_util::Full<axum::body::Bytes>>();
    let mut builder = Request::builder().method(method).uri(url);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let request = builder
        .body(http_body_util::Full::new(axum::body::Bytes::from(
            body.to_vec(),
        )))
        .unwrap();
    let response = client.request(request).await.unwrap();
    let (parts, body) = response.into_parts();
    body.collect().await.unwrap();
    (parts.status, parts.headers)
}

#[tokio::test]
async fn a_download_is_an_attachment_with_the_pinned_type_and_encoded_name() {
    let env = TestEnv::new().await;
    let token = access(&env.register(&TestEnv::email("download")).await);
    let ticket = env
        .send(env.post("/v1/tickets").bearer(&token).json(json!({
            "subject": "Notes", "description": "See the file.",
            "category": "general", "priority": "normal"
        })))
        .await;
    let id = ticket.body["id"].as_str().unwrap();
    let upload = env
        .send(
            env.post(&format!("/v1/tickets/{id}/attachments"))
                .bearer(&token)
                .json(json!({"file_name": "résumé \"v2\";.txt", "content_type": "text/plain", "size": 5})),
        )
        .await;
    assert_eq!(upload.status, StatusCode::CREATED, "{:?}", upload.body);
    let attachment = upload.body["attachment_id"].as_str().unwrap();
    let (status, _) = fetch_with_headers(
        Method::PUT,
        upload.body["upload_url"].as_str().unwrap(),
        &[("content-type", "text/plain")],
        b"hello",
    )
    .await;
    assert_eq!(status, StatusCode::OK);

    let download = env
        .send(
            env.get(&format!("/v1/tickets/{id}/attachments/{attachment}"))
                .bearer(&token),
        )
        .await;
    assert_eq!(download.status, StatusCode::OK, "{:?}", download.body);
    let url = download.body["download_url"].as_str().unwrap();
    assert!(url.contains("response-content-disposition="), "{url}");
    let (status, headers) = fetch_with_headers(Method::GET, url, &[], b"").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        headers["content-disposition"],
        "attachment; filename*=UTF-8''r%C3%A9sum%C3%A9%20%22v2%22%3B.txt"
    );
    assert_eq!(headers["content-type"], "text/plain");
}
