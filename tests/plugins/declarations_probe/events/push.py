from typing import Any

from dify_plugin.interfaces.trigger import Event


class PushEvent(Event):
    def _on_event(self, request: Any, parameters: Any, payload: Any) -> Any:
        raise NotImplementedError
