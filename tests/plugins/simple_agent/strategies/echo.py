from collections.abc import Generator
from typing import Any

from dify_plugin.entities.agent import AgentInvokeMessage
from dify_plugin.entities.model.llm import LLMModelConfig
from dify_plugin.entities.model.message import UserPromptMessage
from dify_plugin.interfaces.agent import AgentModelConfig, AgentStrategy
from pydantic import BaseModel


class EchoParams(BaseModel):
    model: AgentModelConfig
    query: str


class EchoStrategy(AgentStrategy):
    def _invoke(self, parameters: dict[str, Any]) -> Generator[AgentInvokeMessage, None, None]:
        params = EchoParams.model_validate(parameters)
        model = params.model
        chunks = self.session.model.llm.invoke(
            model_config=LLMModelConfig(
                provider=model.provider,
                model=model.model,
                mode=model.mode,
                completion_params=dict(model.completion_params),
            ),
            prompt_messages=[*model.history_prompt_messages, UserPromptMessage(content=params.query)],
            stream=True,
        )
        for chunk in chunks:
            text = chunk.delta.message.get_text_content()
            if text:
                yield self.create_text_message(text)
