// Reference for the chunked fuzzer: Node's own llhttp (strict, no lenient
// flags) reading a chunked request body. One line per case on stdin:
// "<end> <base64 body stream>", where <end> is the offset at which the gate
// says the body ends (-1: the gate did not accept it). One JSON line out:
// whether llhttp completed the message, the payload it delivered, and where
// it completed relative to <end> ("at", "before", "after"), found by feeding
// the stream in three slices around <end>: llhttp completes a chunked
// message on the final LF, with no lookahead.
"use strict";
const { HTTPParser } = require("_http_common");
const readline = require("node:readline");

const HEAD = Buffer.from("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", "latin1");

function parse(end, body) {
  const data = [];
  let done = false;
  let err = null;
  const p = new HTTPParser();
  p.initialize(HTTPParser.REQUEST, {}, 0, 0);
  p[HTTPParser.kOnHeadersComplete] = () => 0;
  p[HTTPParser.kOnBody] = (b) => {
    if (!done) data.push(Buffer.from(b));
  };
  p[HTTPParser.kOnMessageComplete] = () => {
    done = true;
  };
  let where = null;
  const feed = (buf) => {
    if (err || buf.length === 0) return;
    const r = p.execute(buf);
    if (r instanceof Error && !done) err = `${r.code}: ${r.reason}`;
  };
  feed(HEAD);
  if (end > 0 && end <= body.length) {
    feed(body.subarray(0, end - 1));
    if (done) where = "before";
    feed(body.subarray(end - 1, end));
    if (done && !where) where = "at";
    // Only the first message matters; what follows is the next one.
    if (!done) feed(body.subarray(end));
    if (done && !where) where = "after";
  } else {
    feed(body);
  }
  return { done, where, data: Buffer.concat(data).toString("base64"), err: done ? null : err };
}

const rl = readline.createInterface({ input: process.stdin });
const out = [];
rl.on("line", (l) => {
  const sp = l.indexOf(" ");
  out.push(JSON.stringify(parse(Number(l.slice(0, sp)), Buffer.from(l.slice(sp + 1), "base64"))));
});
rl.on("close", () => process.stdout.write(out.join("\n") + "\n"));
