// Echo bot on @slack/rtm-api: a peer client for rtm-bench.
//
// The same contract as examples/echo_bot.rs: reads SLACK_TOKEN and SLACK_API_URL, echoes the text
// of every plain `message` from another user back to its channel over RTM, pipelined. It uses
// `rtm.send('message', …)`, which writes at once; `rtm.sendMessage()` would go through the
// client's outgoing queue (concurrency 1) and wait for each reply before the next send, which is
// not pipelined. Replies are counted as they arrive through the `slack_event` stream.
'use strict';

const { RTMClient, LogLevel } = require('@slack/rtm-api');

const rtm = new RTMClient(process.env.SLACK_TOKEN, {
  slackApiUrl: process.env.SLACK_API_URL,
  logLevel: LogLevel.ERROR,
});

let me;
const replies = { ok: 0, error: 0 };

rtm.on('message', (event) => {
  if (event.subtype !== undefined || event.user === me) return;
  if (event.channel === undefined || event.text === undefined) return;
  rtm.send('message', { channel: event.channel, text: event.text }).catch((error) => {
    replies.error += 1;
    console.error(`echo failed: ${error.message}`);
  });
});

rtm.on('slack_event', (type, event) => {
  if (type === undefined && event.reply_to !== undefined) {
    if (event.ok) replies.ok += 1;
    else replies.error += 1;
  }
});

rtm.start().then((result) => {
  me = result.self.id;
}).catch((error) => {
  console.error(`echo.js: ${error.message}`);
  process.exit(1);
});
