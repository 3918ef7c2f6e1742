from dify_plugin import TextEmbeddingModel


class ProbeEmbedding(TextEmbeddingModel):
    def _invoke(self, model, credentials, texts, user=None, input_type=None):
        raise NotImplementedError

    def get_num_tokens(self, model, credentials, texts) -> list[int]:
        return [0 for _ in texts]

    def validate_credentials(self, model, credentials) -> None:
        pass

    @property
    def _invoke_error_mapping(self) -> dict:
        return {}
