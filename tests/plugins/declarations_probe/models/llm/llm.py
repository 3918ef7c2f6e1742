from dify_plugin import LargeLanguageModel


class ProbeLLM(LargeLanguageModel):
    def _invoke(self, model, credentials, prompt_messages, model_parameters, tools=None, stop=None, stream=True, user=None):
        raise NotImplementedError

    def get_num_tokens(self, model, credentials, prompt_messages, tools=None) -> int:
        return 0

    def validate_credentials(self, model, credentials) -> None:
        pass

    @property
    def _invoke_error_mapping(self) -> dict:
        return {}
