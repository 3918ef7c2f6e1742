from collections.abc import Generator, Mapping
from typing import Any

from dify_plugin.entities.datasource import WebSiteInfo, WebSiteInfoDetail, WebsiteCrawlMessage
from dify_plugin.interfaces.datasource.website import WebsiteCrawlDatasource


class Crawler(WebsiteCrawlDatasource):
    def _get_website_crawl(self, datasource_parameters: Mapping[str, Any]) -> Generator[WebsiteCrawlMessage, None, None]:
        url = datasource_parameters.get("url", "https://example.com")
        yield self.create_crawl_message(WebSiteInfo(status="processing", web_info_list=[], total=2, completed=0))
        pages = [
            WebSiteInfoDetail(source_url=f"{url}/{n}", content=f"page {n} of {url}", title=f"Page {n}", description="")
            for n in (1, 2)
        ]
        yield self.create_crawl_message(WebSiteInfo(status="completed", web_info_list=pages, total=2, completed=2))
