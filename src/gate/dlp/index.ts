import { EncodedBody } from "./encoded-body.ts";
import { buildMatcher, collectLiterals, scanComplete, StreamMatcher, type Matcher } from "./engine.ts";
import { findHighEntropy } from "./entropy.ts";

// DLP: what may not leave the bottle. Scans a request's URL, headers and
// body for
//  - built-in credential shapes (rules.ts: AWS, GitHub, Anthropic, OpenAI,
//    Slack, Stripe, private keys, JWT, Google, npm, GitLab, ...), raw text
//    (and the percent-decoded form in URLs and headers);
//  - the bottle's own secret values and placeholders, raw and in base64
//    (3 alignments, standard and URL-safe), base32, URL encoding and hex
//    (variants.ts). Values shorter than 8 characters are not matched: they
//    would match ordinary text everywhere. Long values are matched over
//    their whole length, in pieces (any 127 bytes of them);
//  - random-looking tokens in URL paths, query values and subdomain labels
//    (entropy.ts), for secrets the gate was not told about.
//
// Findings name the rule and the place, never the matched text: they end up
// in 403 bodies and the audit log.
//
// Bodies are scanned as a stream with bounded memory: one 64 KiB slice plus
// an overlap of the longest pattern window (< 1 KiB), so a secret split
// across any chunk boundary is still found. A finding is reported by the
// push() that completes it or, at the latest, by end(): a caller that must
// not forward a secret has to hold back what it forwards until push()
// returns (the overlap means the finding can come one chunk late; end() is
// the final word).
//
// Content-Encoding (encoded-body.ts, decode.ts): gzip / x-gzip, deflate
// (zlib or raw), br, and stacks of them are decoded before scanning. An
// unknown coding (compress, xz, ...) is a finding
// ("unsupported-content-encoding") as soon as the body has a byte: a
// scanner that cannot read the body must not wave it through, and clients
// do not send such request bodies in practice. A corrupt or truncated
// compressed body, or bytes after its end, is a finding too
// ("undecodable-body"), as is a body above `limits.maxDecodedBytes`
// ("decoded-size-limit", default 1 GiB: a decompression bomb costs CPU,
// never memory). The encoded bytes are scanned as they are too (a gzip
// header's FNAME, FCOMMENT, FEXTRA), and a body that is gzip, zlib or zip
// by its first bytes is inflated and scanned whatever its headers say
// (archive.ts), and so is each part of a multipart body (multipart.ts).
//
// Host names, methods and header names are the bottle's bytes too: scanHost
// (literals and rules case-insensitively, also with the dots removed, and
// entropy on the labels the route did not fix), scanMethod, scanHeaders.

export interface DlpContext {
  secrets: { name: string; value: string }[];
  placeholders: { name: string; value: string }[];
  // Only the given values, in every encoding, and nothing else (no token
  // shapes, no entropy): what a `dlp: off` route is still held to, so a
  // placeholder can never leave through it.
  literalsOnly?: boolean;
  limits?: { maxDecodedBytes?: number; maxArchiveBytes?: number };
}

export interface DlpFinding {
  rule: string;
  where: string;
}

// Scans bytes as they are (a request body without Content-Encoding, a
// file in a git push).
export interface BodyScanner {
  push(chunk: Uint8Array): DlpFinding | null;
  end(): DlpFinding | null;
}

// Decodes a request body by its Content-Encoding, then scans it. Decoding
// is asynchronous: a finding comes from the push() that completes it or a
// later one, at the latest from end().
export interface EncodedBodyScanner {
  push(chunk: Uint8Array): Promise<DlpFinding | null>;
  end(): Promise<DlpFinding | null>;
  // Stop early (the request was refused): frees the decoder.
  close(): void;
}

export interface Dlp {
  scanUrl(host: string, pathAndQuery: string): DlpFinding | null;
  // The path and query of a request target.
  scanPath(pathAndQuery: string): DlpFinding | null;
  // A host name (CONNECT authority, URL host, SNI): the bottle chooses it,
  // and it leaves as a DNS lookup before any request does. `fixed`: the
  // part of it the policy chose (the route's exact host, or its wildcard's
  // suffix), whose labels are not entropy-checked.
  scanHost(host: string, fixed?: string | null): DlpFinding | null;
  // The request method: a token the bottle chooses, sent upstream as is.
  scanMethod(method: string): DlpFinding | null;
  scanHeaders(headers: [string, string][]): DlpFinding | null;
  bodyScanner(): BodyScanner;
  // `contentTypes`: the request's Content-Type values (each part of a
  // multipart body is sniffed too).
  encodedBodyScanner(contentEncoding: string | null, contentTypes?: readonly string[]): EncodedBodyScanner;
  // Known secrets and credential shapes only (no entropy), in any case:
  // the last check on text about to be written to the audit file.
  findSecret(text: string): string | null;
}

const DEFAULT_MAX_DECODED = 1024 * 1024 * 1024;
// The gate's DLP window: a zip is read whole before anything is sent.
const DEFAULT_MAX_ARCHIVE = 8 * 1024 * 1024;

const enc = new TextEncoder();
const utf8 = new TextDecoder("utf-8", { fatal: false });

const hexVal = (c: number): number =>
  c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x41 && c <= 0x46 ? c - 55 : c >= 0x61 && c <= 0x66 ? c - 87 : -1;

// Percent-decodes to bytes; malformed escapes stay as they are (the decoded
// view is an extra view, the raw one is scanned too).
export function percentDecode(s: string, plusIsSpace: boolean): Uint8Array {
  const raw = enc.encode(s);
  const out = new Uint8Array(raw.length);
  let j = 0;
  for (let i = 0; i < raw.length; i++) {
    const b = raw[i]!;
    if (b === 0x25 && i + 2 < raw.length) {
      const h = hexVal(raw[i + 1]!);
      const l = hexVal(raw[i + 2]!);
      if (h >= 0 && l >= 0) {
        out[j++] = (h << 4) | l;
        i += 2;
        continue;
      }
    }
    out[j++] = plusIsSpace && b === 0x2b ? 0x20 : b;
  }
  return out.subarray(0, j);
}

const HEADER_TOKEN = /^[A-Za-z0-9!#$&'*+.^_`|~-]{1,64}$/;

class Scanner implements Dlp {
  constructor(
    private readonly exact: Matcher,
    private readonly folded: Matcher,
    private readonly maxDecoded: number,
    private readonly maxArchive: number,
    private readonly entropy: boolean = true,
  ) {}

  scanUrl(host: string, pathAndQuery: string): DlpFinding | null {
    return this.scanHost(host) ?? this.scanPath(pathAndQuery);
  }

  scanPath(pathAndQuery: string): DlpFinding | null {
    // A fragment is never sent by real clients; if one is, scan it like
    // the query.
    const q = pathAndQuery.search(/[?#]/);
    const path = q === -1 ? pathAndQuery : pathAndQuery.slice(0, q);
    const query = q === -1 ? "" : pathAndQuery.slice(q + 1);

    let f = scanComplete(this.exact, enc.encode(path));
    if (f) return { rule: f, where: "path" };
    const hasPct = path.includes("%");
    const decodedPath = hasPct ? percentDecode(path, false) : null;
    if (decodedPath) {
      f = scanComplete(this.exact, decodedPath);
      if (f) return { rule: f, where: "path" };
    }
    if (query !== "") {
      f = scanComplete(this.exact, enc.encode(query));
      if (f) return { rule: f, where: "query" };
      if (query.includes("%") || query.includes("+")) {
        f = scanComplete(this.exact, percentDecode(query, true));
        if (f) return { rule: f, where: "query" };
      }
    }

    // Entropy last, so a specific rule wins when both apply.
    if (!this.entropy) return null;
    if (findHighEntropy(decodedPath ? utf8.decode(decodedPath) : path, "path")) return { rule: "entropy", where: "path" };
    if (query !== "") {
      for (const pair of query.split(/[&;]/)) {
        if (pair.length < 20) continue;
        const text = pair.includes("%") || pair.includes("+") ? utf8.decode(percentDecode(pair, true)) : pair;
        // Key and value are checked separately: "token=<value>".
        const eq = text.indexOf("=");
        const parts = eq === -1 ? [text] : [text.slice(0, eq), text.slice(eq + 1)];
        for (const p of parts) if (findHighEntropy(p, "query")) return { rule: "entropy", where: "query" };
      }
    }
    return null;
  }

  scanHost(host: string, fixed: string | null = null): DlpFinding | null {
    // Host names are case-insensitive and arrive lowercased, so match
    // case-insensitively; also with the dots removed, for a value split
    // over several labels.
    let f = scanComplete(this.folded, enc.encode(host));
    if (!f && host.includes(".")) f = scanComplete(this.folded, enc.encode(host.replace(/\./g, "")));
    if (f) return { rule: f, where: "host" };
    // IP literals have no labels to speak of.
    if (!this.entropy || /^[0-9.]+$/.test(host) || host.includes(":")) return null;
    // The labels the bottle chose: those left of the policy's part, or,
    // with no route to say, all but the registrable name and TLD.
    const labels = host.split(".");
    const free =
      fixed === null
        ? labels.length - 2
        : host === fixed
          ? 0
          : host.endsWith("." + fixed)
            ? labels.length - fixed.split(".").length
            : labels.length - 2;
    for (let i = 0; i < free; i++) {
      if (findHighEntropy(labels[i]!, "host")) return { rule: "entropy", where: "host" };
    }
    return null;
  }

  scanMethod(method: string): DlpFinding | null {
    const f = scanComplete(this.exact, enc.encode(method));
    if (f) return { rule: f, where: "method" };
    if (this.entropy && findHighEntropy(method, "path")) return { rule: "entropy", where: "method" };
    return null;
  }

  findSecret(text: string): string | null {
    // Case-insensitive and with dots removed, like a host: this is a net
    // for text that may hold a lowercased host name, and a stray
    // redaction costs nothing.
    return scanComplete(this.folded, enc.encode(text)) ?? (text.includes(".") ? scanComplete(this.folded, enc.encode(text.replace(/\./g, ""))) : null);
  }

  scanHeaders(headers: [string, string][]): DlpFinding | null {
    for (const [name, value] of headers) {
      // Names are case-insensitive (and lowercased by HTTP/2 and many
      // clients): matched like host names.
      let f = scanComplete(this.folded, enc.encode(name));
      // The name itself is suspect here: do not echo it.
      if (f) return { rule: f, where: "header-name" };
      const where = HEADER_TOKEN.test(name) ? `header:${name.toLowerCase()}` : "header";
      f = scanComplete(this.exact, enc.encode(value));
      if (!f && value.includes("%")) f = scanComplete(this.exact, percentDecode(value, false));
      if (f) return { rule: f, where };
    }
    return null;
  }

  bodyScanner(): BodyScanner {
    return new Body(this.exact, this.maxDecoded);
  }

  encodedBodyScanner(contentEncoding: string | null, contentTypes: readonly string[] = []): EncodedBodyScanner {
    return new EncodedBody(() => this.bodyScanner(), contentEncoding, { maxArchiveBytes: this.maxArchive, maxDecodedBytes: this.maxDecoded }, contentTypes);
  }
}

class Body implements BodyScanner {
  private finding: DlpFinding | null = null;
  private readonly stream: StreamMatcher;
  private scanned = 0;

  constructor(
    matcher: Matcher,
    private readonly maxBytes: number,
  ) {
    this.stream = new StreamMatcher(matcher);
  }

  push(chunk: Uint8Array): DlpFinding | null {
    if (this.finding || chunk.length === 0) return this.finding;
    this.scanned += chunk.length;
    if (this.scanned > this.maxBytes) return (this.finding = { rule: "decoded-size-limit", where: "body" });
    const f = this.stream.push(chunk);
    if (f) this.finding = { rule: f, where: "body" };
    return this.finding;
  }

  end(): DlpFinding | null {
    if (this.finding) return this.finding;
    const f = this.stream.end();
    if (f) this.finding = { rule: f, where: "body" };
    return this.finding;
  }
}

export function compileDlp(ctx: DlpContext): Dlp {
  const literals = collectLiterals(ctx.secrets, ctx.placeholders);
  const rules = !ctx.literalsOnly;
  return new Scanner(
    buildMatcher(literals, false, rules),
    buildMatcher(literals, true, rules),
    ctx.limits?.maxDecodedBytes ?? DEFAULT_MAX_DECODED,
    ctx.limits?.maxArchiveBytes ?? DEFAULT_MAX_ARCHIVE,
    rules,
  );
}
