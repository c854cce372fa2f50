"""Echo bot on slack_sdk.rtm_v2.RTMClient: a peer client for rtm-bench.

The same contract as examples/echo_bot.rs: reads SLACK_TOKEN and SLACK_API_URL, echoes the text of
every plain `message` from another user back to its channel over RTM, pipelined (rtm_v2's `send`
never waits for a reply; replies are counted as they arrive). rtm_v2 runs listeners on a pool of
10 threads (its default `concurrency`), as a user of the SDK gets it.
"""

import itertools
import os
import threading

from slack_sdk.rtm_v2 import RTMClient


def main() -> None:
    rtm = RTMClient(token=os.environ["SLACK_TOKEN"], base_url=os.environ["SLACK_API_URL"])
    # rtm_v2 does not expose rtm.connect's `self`; auth.test names the same user.
    me = rtm.web_client.auth_test()["user_id"]
    ids = itertools.count(1)
    lock = threading.Lock()
    replies = {"ok": 0, "error": 0}

    @rtm.on("message")
    def echo(client: RTMClient, event: dict) -> None:
        if event.get("subtype") is not None or event.get("user") == me:
            return
        channel, text = event.get("channel"), event.get("text")
        if channel is None or text is None:
            return
        client.send({"id": next(ids), "type": "message", "channel": channel, "text": text})

    @rtm.on("*")
    def reply(client: RTMClient, event: dict) -> None:
        if "type" not in event and "reply_to" in event:
            with lock:
                replies["ok" if event.get("ok") else "error"] += 1

    rtm.start()


if __name__ == "__main__":
    main()
