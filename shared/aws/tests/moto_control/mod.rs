//! S3 Control on moto, for the tests that sweep or change the account's block.

/// S3 Control's endpoint on moto's address as it is (the SDK would put the account id in
/// the host name).
#[derive(Debug)]
pub struct Plain(pub String);

impl aws_sdk_s3control::config::endpoint::ResolveEndpoint for Plain {
    fn resolve_endpoint<'a>(
        &'a self,
        _: &'a aws_sdk_s3control::config::endpoint::Params,
    ) -> aws_sdk_s3control::config::endpoint::EndpointFuture<'a> {
        aws_sdk_s3control::config::endpoint::EndpointFuture::ready(Ok(
            aws_smithy_types::endpoint::Endpoint::builder()
                .url(self.0.clone())
                .build(),
        ))
    }
}

/// S3 Control on moto's address as it is, counted and named like every client trailguard
/// builds.
pub fn control(sdk: &aws_config::SdkConfig) -> aws_sdk_s3control::Client {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap_or_default();
    aws_sdk_s3control::Client::from_conf(
        aws_sdk_s3control::config::Builder::from(sdk)
            .endpoint_resolver(Plain(endpoint))
            .interceptor(trailguard_aws::attempts::AttemptCounter)
            .build(),
    )
}
