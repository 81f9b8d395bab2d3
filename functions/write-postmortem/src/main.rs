//! The `write-postmortem` Lambda: wiring only; the logic lives in `iras-core`.

#[tokio::main]
async fn main() -> Result<(), iras_lambda::Error> {
    iras_lambda::run_step("write-postmortem").await
}
