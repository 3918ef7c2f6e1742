from collections.abc import Mapping

from dify_plugin import ModelProvider


class ReturningProvider(ModelProvider):
    def validate_provider_credentials(self, credentials: Mapping) -> None:
        # what the service would have told it, stored with the credentials for the models to use
        credentials["mode"] = "chat"
        credentials["endpoint_url"] = "https://api.returning.example/v1"
