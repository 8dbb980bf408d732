// Reference for the head fuzzer: Node's own llhttp (the parser behind
// node:http servers), strict (no lenient flags). One base64 request stream
// per stdin line; one JSON line out: the messages llhttp framed and where
// it stopped with an error, if it did.
"use strict";
const { HTTPParser, methods } = require("_http_common");
const readline = require("node:readline");

function parse(buf) {
  const msgs = [];
  let cur = null;
  const p = new HTTPParser();
  p.initialize(HTTPParser.REQUEST, {}, 0, 0);
  p[HTTPParser.kOnHeaders] = (h) => cur && cur.headers.push(...h);
  p[HTTPParser.kOnHeadersComplete] = (_maj, _min, headers, method, url) => {
    cur = { method: methods[method], url, headers: headers || [], body: 0 };
    return 0;
  };
  p[HTTPParser.kOnBody] = (b) => {
    if (cur) cur.body += b.length;
  };
  p[HTTPParser.kOnMessageComplete] = () => {
    if (cur) msgs.push(cur);
    cur = null;
  };
  const r = p.execute(buf);
  const err = r instanceof Error ? `${r.code}: ${r.reason}` : null;
  return { msgs, err };
}

const rl = readline.createInterface({ input: process.stdin });
const out = [];
rl.on("line", (l) => out.push(JSON.stringify(parse(Buffer.from(l, "base64")))));
rl.on("close", () => process.stdout.write(out.join("\n") + "\n"));
