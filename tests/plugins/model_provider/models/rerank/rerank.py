from dify_plugin import RerankModel
from dify_plugin.entities.model.rerank import MultiModalRerankResult, RerankDocument, RerankResult
from dify_plugin.errors.model import InvokeError


def _rank(query: str, docs: list[str], score_threshold, top_n) -> list[RerankDocument]:
    words = set(query.lower().split())
    scored = [RerankDocument(index=i, text=doc, score=len(words & set(doc.lower().split())) / (len(words) or 1)) for i, doc in enumerate(docs)]
    scored = [doc for doc in scored if score_threshold is None or doc.score >= score_threshold]
    scored.sort(key=lambda doc: (-doc.score, doc.index))
    return scored[: top_n or len(scored)]


class FakeRerank(RerankModel):
    def _invoke(self, model, credentials, query, docs, score_threshold=None, top_n=None, user=None) -> RerankResult:
        return RerankResult(model=model, docs=_rank(query, docs, score_threshold, top_n))

    def _invoke_multimodal(self, model, credentials, query, docs, score_threshold=None, top_n=None, user=None) -> MultiModalRerankResult:
        texts = [doc.content if doc.content_type == "text" else "" for doc in docs]
        return MultiModalRerankResult(model=model, docs=_rank(query.content, texts, score_threshold, top_n))

    def validate_credentials(self, model, credentials) -> None:
        pass

    @property
    def _invoke_error_mapping(self) -> dict[type[InvokeError], list[type[Exception]]]:
        return {}
