from decimal import Decimal

from dify_plugin import TextEmbeddingModel
from dify_plugin.entities.model import EmbeddingInputType
from dify_plugin.entities.model.text_embedding import EmbeddingUsage, MultiModalEmbeddingResult, TextEmbeddingResult
from dify_plugin.errors.model import InvokeError


def _usage(tokens: int) -> EmbeddingUsage:
    zero = Decimal("0")
    return EmbeddingUsage(tokens=tokens, total_tokens=tokens, unit_price=zero, price_unit=zero, total_price=zero, currency="USD", latency=0.0)


class FakeEmbedding(TextEmbeddingModel):
    def _invoke(self, model, credentials, texts, user=None, input_type=EmbeddingInputType.DOCUMENT) -> TextEmbeddingResult:
        embeddings = [[float(len(text)), float(len(text.split())), 1.0 if input_type == EmbeddingInputType.QUERY else 0.0] for text in texts]
        return TextEmbeddingResult(model=model, embeddings=embeddings, usage=_usage(sum(len(t.split()) for t in texts)))

    def _invoke_multimodal(self, model, credentials, documents, user=None, input_type=EmbeddingInputType.DOCUMENT) -> MultiModalEmbeddingResult:
        embeddings = [[float(len(doc.content)), 1.0 if doc.content_type == "image" else 0.0] for doc in documents]
        return MultiModalEmbeddingResult(model=model, embeddings=embeddings, usage=_usage(len(documents)))

    def get_num_tokens(self, model, credentials, texts) -> list[int]:
        return [len(text.split()) for text in texts]

    def validate_credentials(self, model, credentials) -> None:
        pass

    @property
    def _invoke_error_mapping(self) -> dict[type[InvokeError], list[type[Exception]]]:
        return {}
