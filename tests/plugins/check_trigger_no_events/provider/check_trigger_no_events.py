import json

from werkzeug import Request, Response

from dify_plugin.entities.trigger import EventDispatch, Subscription
from dify_plugin.interfaces.trigger import Trigger


class PingTrigger(Trigger):
    def _dispatch_event(self, subscription: Subscription, request: Request) -> EventDispatch:
        body = request.get_json(silent=True) or {}
        if "ref" not in body:  # a ping, or anything but a push: nothing to run
            return EventDispatch(events=[], response=Response(json.dumps({"pong": True}), status=200))
        return EventDispatch(events=["pushed"], response=Response("{}", status=202), payload=body)
