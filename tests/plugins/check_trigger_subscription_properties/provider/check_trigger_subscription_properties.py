import json

from werkzeug import Request, Response

from dify_plugin.entities.trigger import EventDispatch, Subscription
from dify_plugin.errors.trigger import TriggerValidationError
from dify_plugin.interfaces.trigger import Trigger


class SecretTrigger(Trigger):
    def _dispatch_event(self, subscription: Subscription, request: Request) -> EventDispatch:
        secret = subscription.properties["webhook_secret"]
        if not secret:
            raise TriggerValidationError("no webhook secret")
        body = request.get_json(silent=True)
        if body is None:
            return EventDispatch(events=[], response=Response("cannot parse the body", status=500))
        payload = {"ref": f"refs/heads/{body.get('branch', 'main')}"}
        return EventDispatch(events=["pushed"], response=Response(json.dumps({"ok": True}), status=202), payload=payload)
