from collections.abc import Generator, Mapping
from typing import Any

from dify_plugin.entities.datasource import (
    DatasourceGetPagesResponse,
    DatasourceMessage,
    GetOnlineDocumentPageContentRequest,
    OnlineDocumentInfo,
    OnlineDocumentPage,
)
from dify_plugin.interfaces.datasource.online_document import OnlineDocumentDatasource


class Docs(OnlineDocumentDatasource):
    def _get_pages(self, datasource_parameters: Mapping[str, Any]) -> DatasourceGetPagesResponse:
        page = OnlineDocumentPage(page_id="p1", page_name="Welcome", type="page", last_edited_time="2025-01-01T00:00:00Z")
        info = OnlineDocumentInfo(workspace_id="w1", workspace_name="Team", workspace_icon="", total=1, pages=[page])
        return DatasourceGetPagesResponse(result=[info])

    def _get_content(self, page: GetOnlineDocumentPageContentRequest) -> Generator[DatasourceMessage, None, None]:
        yield self.create_text_message(f"content of {page.workspace_id}/{page.page_id} ({page.type})")
        yield self.create_variable_message("page_id", page.page_id)
