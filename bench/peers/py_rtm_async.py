"""Echo bot on the asyncio slack_sdk.rtm.RTMClient (run_async=True): a peer client for rtm-bench.

The same contract as examples/echo_bot.rs: reads SLACK_TOKEN and SLACK_API_URL, echoes the text of
every plain `message` from another user back to its channel over RTM, pipelined (the callback awaits
only the websocket write, never Slack's reply; replies arrive as "Unknown" events and are counted).
"""

import asyncio
import os

from slack_sdk.rtm import RTMClient

state = {"me": None, "ok": 0, "error": 0}


@RTMClient.run_on(event="open")
async def on_open(**payload) -> None:
    state["me"] = payload["data"]["self"]["id"]


@RTMClient.run_on(event="message")
async def echo(**payload) -> None:
    data = payload["data"]
    if data.get("subtype") is not None or data.get("user") == state["me"]:
        return
    channel, text = data.get("channel"), data.get("text")
    if channel is None or text is None:
        return
    await payload["rtm_client"].send_over_websocket(payload={"type": "message", "channel": channel, "text": text})


@RTMClient.run_on(event="Unknown")
async def reply(**payload) -> None:
    data = payload["data"]
    if "reply_to" in data:
        state["ok" if data.get("ok") else "error"] += 1


async def main() -> None:
    rtm = RTMClient(
        token=os.environ["SLACK_TOKEN"],
        base_url=os.environ["SLACK_API_URL"],
        run_async=True,
        loop=asyncio.get_running_loop(),
    )
    await rtm.start()


if __name__ == "__main__":
    asyncio.run(main())
