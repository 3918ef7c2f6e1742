from collections.abc import Mapping
from typing import Any

from dify_plugin.interfaces.trigger import Trigger, TriggerSubscriptionConstructor


class ProbeTrigger(Trigger):
    def _dispatch_event(self, subscription: Any, request: Any) -> Any:
        raise NotImplementedError


class ProbeSubscriptionConstructor(TriggerSubscriptionConstructor):
    def _create_subscription(self, endpoint: str, parameters: Mapping[str, Any], credentials: Mapping[str, Any], credential_type: Any) -> Any:
        raise NotImplementedError

    def _delete_subscription(self, subscription: Any, credentials: Mapping[str, Any], credential_type: Any) -> Any:
        raise NotImplementedError

    def _refresh_subscription(self, subscription: Any, credentials: Mapping[str, Any], credential_type: Any) -> Any:
        raise NotImplementedError
