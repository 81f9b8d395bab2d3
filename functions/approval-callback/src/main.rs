//! The `approval-callback` Lambda: wiring only; the logic lives in `iras-core`.

#[tokio::main]
async fn main() -> Result<(), iras_lambda::Error> {
    iras_lambda::run_http().await
}
