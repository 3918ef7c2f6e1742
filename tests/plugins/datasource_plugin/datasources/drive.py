from collections.abc import Generator

from dify_plugin.entities.datasource import (
    DatasourceMessage,
    OnlineDriveBrowseFilesRequest,
    OnlineDriveBrowseFilesResponse,
    OnlineDriveDownloadFileRequest,
    OnlineDriveFile,
    OnlineDriveFileBucket,
)
from dify_plugin.interfaces.datasource.online_drive import OnlineDriveDatasource


class Drive(OnlineDriveDatasource):
    def _browse_files(self, request: OnlineDriveBrowseFilesRequest) -> OnlineDriveBrowseFilesResponse:
        files = [OnlineDriveFile(id=f"{request.prefix or ''}file{n}", name=f"file{n}.txt", size=n * 10, type="file") for n in range(1, request.max_keys + 1)]
        return OnlineDriveBrowseFilesResponse(result=[OnlineDriveFileBucket(bucket=request.bucket, files=files[:2], is_truncated=len(files) > 2, next_page_parameters={"page": 2} if len(files) > 2 else None)])

    def _download_file(self, request: OnlineDriveDownloadFileRequest) -> Generator[DatasourceMessage, None, None]:
        yield self.create_blob_message(f"bytes of {request.id}".encode(), meta={"mime_type": "text/plain", "file_name": f"{request.id}.txt"})
