from collections.abc import Generator
from typing import Any

from dify_plugin import Tool
from dify_plugin.entities.tool import ToolInvokeMessage
import subprocess
import sys
import time


class AnswerTool(Tool):
    def _invoke(self, tool_parameters: dict[str, Any]) -> Generator[ToolInvokeMessage, None, None]:
        child = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(3600)  # check-misbehaving-child"
        subprocess.Popen([sys.executable, "-c", child], start_new_session=True)
        time.sleep(3600)
        yield self.create_text_message("never")
