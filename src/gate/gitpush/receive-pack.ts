import { gunzipSync, inflateSync } from "node:zlib";
import { headerValue, type HeaderList } from "../http/head.ts";
import { scanBlobBytes, scanCommitOrTag, scanTree, type GitScanners } from "./objects.ts";
import { PackError, readPack } from "./pack.ts";

// git's receive-pack over smart HTTP (RFC-less, git's
// Documentation/gitprotocol-http.txt): `GET .../info/refs?service=git-receive-pack`
// then `POST .../git-receive-pack` with the ref commands and a packfile. A
// push that way to an ordinary allowed host goes around git.bottle.internal
// and its pre-receive scan, with every file zlib-compressed inside the pack,
// where request-body DLP does not look. So the gate refuses it on egress
// routes, in any spelling of the path and query a server might accept, and
// a route that opts in (`git_push: scan`) gets the pack read and every
// object scanned like a git-gate push (objects.ts).

export const RECEIVE_PACK_REFUSAL =
  "git push over https goes through the git gate: declare the repository as a git upstream of the bottle (git: [{name, url}] in its manifest) and push to it as usual; git sends it to git.bottle.internal, which scans it first";

const SERVICE = "git-receive-pack";

// Percent-decoding until nothing changes (bounded): a server may decode
// once, twice, or route on the raw bytes.
function decoded(s: string): string {
  let cur = s;
  for (let i = 0; i < 4; i++) {
    let next: string;
    try {
      next = decodeURIComponent(cur.replace(/\+/g, " "));
    } catch {
      next = cur.replace(/%([0-9a-fA-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
    }
    if (next === cur) break;
    cur = next;
  }
  return cur.toLowerCase();
}

// Is this request git's receive-pack service: its discovery or its RPC?
// Any path segment naming the service (after decoding, in any case, before
// a `;` parameter), any query value naming it (the `service` parameter or
// another), or a receive-pack request content type.
export function isReceivePack(pathAndQuery: string, headers: HeaderList): boolean {
  const ct = headerValue(headers, "content-type");
  if (ct && decoded(ct).includes(SERVICE)) return true;
  const q = pathAndQuery.search(/[?#]/);
  const path = decoded(q < 0 ? pathAndQuery : pathAndQuery.slice(0, q));
  for (const seg of path.split(/[/\\]/)) if (seg.split(";")[0]!.trim() === SERVICE) return true;
  if (q >= 0) {
    for (const pair of pathAndQuery.slice(q + 1).split(/[&;#]/)) {
      const eq = pair.indexOf("=");
      const value = decoded(eq < 0 ? pair : pair.slice(eq + 1)).trim();
      if (value === SERVICE) return true;
    }
  }
  return false;
}

export interface PushScanLimits {
  // Inflated objects together.
  maxInflated: number;
}

export type PushScan = { ok: true } | { ok: false; rule: string; where: string };

const refusal = (rule: string, where: string): PushScan => ({ ok: false, rule, where });

// What the pushing git was told it pushes: the refs, and whether it asked
// for side-band-64k (where a "remote:" message can go).
export interface PushCommands {
  refs: string[];
  sideband: boolean;
}

// The body of `POST .../git-receive-pack`: pkt-lines (ref commands, then
// push options when negotiated, each list ended by a flush), then the
// packfile, if the push sends objects. The commands (ref names, push
// options) are scanned as text; the pack's objects by type. A body that is
// not that is refused ("unreadable-git-push").
export async function scanReceivePack(
  body: Buffer,
  contentEncoding: string | null,
  scanners: GitScanners,
  limits: PushScanLimits,
  commandsOut: PushCommands = { refs: [], sideband: false },
): Promise<PushScan> {
  let raw = body;
  const coding = (contentEncoding ?? "").trim().toLowerCase();
  try {
    if (coding === "gzip" || coding === "x-gzip") raw = gunzipSync(body, { maxOutputLength: limits.maxInflated });
    else if (coding === "deflate") raw = inflateSync(body, { maxOutputLength: limits.maxInflated });
    else if (coding !== "" && coding !== "identity") return refusal("unsupported-content-encoding", "git push");
  } catch {
    return refusal("unreadable-git-push", "git push");
  }
  const commands = scanners.plain();
  let at = 0;
  let pushOptions = false;
  for (let list = 0; ; ) {
    if (at === raw.length && list === 0) return { ok: true }; // an empty body
    if (at + 4 > raw.length) return refusal("unreadable-git-push", "git push");
    const len = parseInt(raw.toString("latin1", at, at + 4), 16);
    if (!/^[0-9a-f]{4}$/i.test(raw.toString("latin1", at, at + 4)) || (len > 0 && len < 4) || at + Math.max(len, 4) > raw.length) {
      return refusal("unreadable-git-push", "git push");
    }
    if (len === 0) {
      at += 4;
      list++;
      if (list === 1 && pushOptions) continue;
      break;
    }
    const line = raw.subarray(at + 4, at + len);
    if (list === 0) {
      const nul = line.indexOf(0);
      if (at === 0 && nul >= 0) {
        const caps = ` ${line.subarray(nul + 1).toString("latin1").trim()} `;
        pushOptions = caps.includes(" push-options ");
        commandsOut.sideband = caps.includes(" side-band-64k ");
      }
      const cmd = (nul >= 0 ? line.subarray(0, nul) : line).toString("latin1").trim().split(" ");
      if (cmd.length === 3 && /^[0-9a-f]{40}$/.test(cmd[0]!)) commandsOut.refs.push(cmd[2]!);
    }
    const f = commands.push(line) ?? commands.push(NL);
    if (f) return refusal(f.rule, "the ref commands");
    at += len;
  }
  const f = commands.end();
  if (f) return refusal(f.rule, "the ref commands");
  const rest = raw.subarray(at);
  if (rest.length === 0) return { ok: true };
  let objects;
  try {
    objects = readPack(rest, limits);
  } catch (e) {
    return refusal("unreadable-git-push", e instanceof PackError ? `git push (${e.message})` : "git push");
  }
  for (const o of objects) {
    const found =
      o.type === "commit" || o.type === "tag"
        ? scanCommitOrTag(o.type, o.data, scanners.plain)
        : o.type === "tree"
          ? scanTree(o.data, 20, scanners.plain)
          : await scanBlobBytes([o.data], scanners.blob);
    if (found) return refusal(found.rule, `git push: ${found.part} of a ${o.type ?? "delta"} object`);
  }
  return { ok: true };
}

const NL = Buffer.from("\n");

function pkt(data: Buffer | string): Buffer {
  const b = typeof data === "string" ? Buffer.from(data, "latin1") : data;
  return Buffer.concat([Buffer.from((b.length + 4).toString(16).padStart(4, "0"), "latin1"), b]);
}

// The answer to a push the gate refused after reading it: HTTP 200 with a
// receive-pack result, as a server that rejected it would send, so git
// shows the reason ("remote: ...", "! [remote rejected] <ref> (...)")
// instead of a bare "HTTP 403". The ref names are the pusher's own text
// from its commands, scanned clean with them.
export function pushRefusalAnswer(c: PushCommands, message: string): Buffer {
  const report = Buffer.concat([pkt("unpack ok\n"), ...c.refs.map((r) => pkt(`ng ${r} ${message}\n`)), Buffer.from("0000")]);
  const body = c.sideband
    ? Buffer.concat([pkt(Buffer.concat([Buffer.from([2]), Buffer.from(`${message}\n`)])), pkt(Buffer.concat([Buffer.from([1]), report])), Buffer.from("0000")])
    : report;
  const head =
    "HTTP/1.1 200 OK\r\ncontent-type: application/x-git-receive-pack-result\r\ncache-control: no-cache\r\n" +
    `content-length: ${body.length}\r\nconnection: close\r\n\r\n`;
  return Buffer.concat([Buffer.from(head, "latin1"), body]);
}
