from collections.abc import Generator, Mapping
from typing import Any

from dify_plugin.interfaces.datasource.website import WebsiteCrawlDatasource


class CrawlDatasource(WebsiteCrawlDatasource):
    def _get_website_crawl(self, datasource_parameters: Mapping[str, Any]) -> Generator:
        yield from ()
