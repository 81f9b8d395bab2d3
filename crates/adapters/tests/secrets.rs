//! Secrets given as Secrets Manager ARNs, resolved once at cold start, on moto server.

use std::collections::HashMap;

use aws_sdk_secretsmanager::config::{Credentials, Region};
use iras_adapters::secrets::resolve;
use iras_testkit::moto::MotoServer;

fn client(endpoint: &str) -> aws_sdk_secretsmanager::Client {
    let conf = aws_sdk_secretsmanager::Config::builder()
        .behavior_version_latest()
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
        .build();
    aws_sdk_secretsmanager::Client::from_conf(conf)
}

#[tokio::test]
async fn a_secret_given_by_arn_is_read_as_the_variable_without_the_suffix() {
    let moto = MotoServer::start().await;
    let sm = client(&moto.endpoint);
    let created = sm
        .create_secret()
        .name("iras/slack-bot-token")
        .secret_string("xoxb-secret-value\n")
        .send()
        .await
        .unwrap();
    let vars: HashMap<String, String> = [
        (
            "IRAS_SLACK_BOT_TOKEN_SECRET_ARN".to_owned(),
            created.arn().unwrap().to_owned(),
        ),
        ("RUST_LOG".to_owned(), "info".to_owned()),
    ]
    .into();
    let secrets = resolve(&sm, &vars).await.unwrap();
    assert_eq!(
        secrets.get("IRAS_SLACK_BOT_TOKEN"),
        Some("xoxb-secret-value")
    );
    assert_eq!(secrets.len(), 1);
    assert!(!format!("{secrets:?}").contains("xoxb"));
}

#[tokio::test]
async fn an_unreadable_secret_fails_start_up_naming_the_variable_not_the_value() {
    let moto = MotoServer::start().await;
    let sm = client(&moto.endpoint);
    let vars: HashMap<String, String> = [(
        "IRAS_API_KEY_SECRET_ARN".to_owned(),
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:missing-AbCdEf".to_owned(),
    )]
    .into();
    let err = resolve(&sm, &vars).await.unwrap_err();
    assert_eq!(err.var, "IRAS_API_KEY_SECRET_ARN");
    assert!(err.to_string().contains("IRAS_API_KEY_SECRET_ARN"));
}
