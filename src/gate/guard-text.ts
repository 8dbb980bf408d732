// The response guard's text view (response-guard.ts): what an agent reading
// a response would reassemble, as opposed to its raw bytes. A streaming API
// that echoes a request header hands it over in pieces: two text deltas in
// two SSE events, `data:` lines, chunk boundaries anywhere, the value
// JSON-escaped (`\u0073k-ant-…`, `\/`). Neither piece holds the credential,
// the agent's concatenation does. So the body is read the way the agent
// reads it:
//  - text/event-stream: SSE lines are parsed; each event's `data:` payload
//    is read as JSON when it starts like JSON, else as text;
//  - anything else: the body is read as (a stream of) JSON;
//  - every JSON string's decoded characters (escapes undone) are appended
//    to a channel named by its key path (`delta.text`,
//    `choices.[].delta.content`; array positions ignored), which lives
//    across events: consecutive deltas of one field are one text. A
//    non-JSON event's data goes to one `(data)` channel, its lines joined
//    without separators. Key strings go to a channel of their own.
// Each channel runs an Aho-Corasick automaton over the credential values;
// its state's depth says how many trailing characters could still become a
// credential, and each such character remembers the raw bytes it came from
// (offset, length, literal or escape), so the guard can hold exactly those
// bytes back and replace them in place (same length) when a credential
// completes. Pure logic: bytes in, matches and a hold-back offset out.

import { Automaton, type TextNeedle } from "./guard-automaton.ts";

export type { TextNeedle } from "./guard-automaton.ts";

export type CharForm = "lit" | "esc" | "u";

export interface TextChar {
  at: number; // absolute offset of its first raw byte
  len: number; // raw bytes it took (1, 2 or 6)
  form: CharForm;
  hexUpper: boolean; // \uXXXX written with upper-case hex
}

export interface TextMatch {
  needle: number;
  chars: TextChar[];
}

interface Channel {
  state: number;
  // The raw spans of the last `depth(state)` characters.
  tail: TextChar[];
}

const MAX_CHANNELS = 64;
const MAX_DEPTH = 32;

// A container being read: `base` names the path to it (a hash), `key` the
// key most recently read in it.
type Frame = { kind: "obj"; base: number; key: number; expectKey: boolean } | { kind: "arr"; base: number };

// Channel names are hashes of key paths (FNV-1a steps): cheap to extend per
// character, and two fields that collide only share a channel, which can
// make nothing a credential that is not one.
const mix = (h: number, v: number): number => Math.imul(h ^ v, 0x01000193) >>> 0;
const ROOT = 0x811c9dc5;
const ARRAY = 0x5b5d;
const KEY = 0x6b6579;

// One JSON value stream, read leniently (whatever it is, strings are
// strings), its characters handed to `emit`. Bytes come in runs (feed): the
// per-byte work in a string is one comparison unless the byte could start
// or continue a credential.
class JsonReader {
  private stack: Frame[] = [];
  private inString = false;
  private isKey = false;
  private keyHash = 0;
  // 0: none, 1: after '\\', 2: in \uXXXX
  private esc = 0;
  private escAt = 0;
  private hex = "";
  private channel: Channel | null = null;

  constructor(
    private readonly emit: (channel: Channel, code: number, at: number, len: number, form: CharForm, hexUpper: boolean) => void,
    private readonly channelFor: (name: number) => Channel,
    // Bytes that start some credential (a string byte in a channel at rest
    // that is not one of these changes nothing).
    private readonly starts: Uint8Array,
  ) {}

  // The raw offset of an escape not yet complete (its bytes must wait).
  get openFrom(): number {
    return this.inString && this.esc !== 0 ? this.escAt : Infinity;
  }

  reset(): void {
    this.stack = [];
    this.inString = false;
    this.esc = 0;
  }

  // bytes[from, to), the first at body offset `base`.
  feed(bytes: Uint8Array, from: number, to: number, base: number): void {
    for (let i = from; i < to; i++) {
      const b = bytes[i]!;
      if (this.inString) {
        if (this.esc === 0) {
          if (b === 0x22) this.endString();
          else if (b === 0x5c) {
            this.esc = 1;
            this.escAt = base + i - from;
          } else {
            if (this.isKey) this.keyHash = mix(this.keyHash, b);
            if (this.channel!.state !== 0 || this.starts[b] === 1) this.emit(this.channel!, b, base + i - from, 1, "lit", false);
          }
          continue;
        }
        this.escapeByte(b);
        continue;
      }
      this.structural(b);
    }
  }

  private structural(b: number): void {
    const top = this.stack[this.stack.length - 1];
    switch (b) {
      case 0x22: // "
        this.inString = true;
        this.isKey = top?.kind === "obj" && top.expectKey;
        this.keyHash = ROOT;
        this.channel = this.channelFor(this.isKey ? mix(top!.base, KEY) : this.valuePath(top));
        return;
      case 0x7b: // {
        if (this.stack.length < MAX_DEPTH) this.stack.push({ kind: "obj", base: this.valuePath(top), key: 0, expectKey: true });
        return;
      case 0x5b: // [
        if (this.stack.length < MAX_DEPTH) this.stack.push({ kind: "arr", base: this.valuePath(top) });
        return;
      case 0x7d: // }
      case 0x5d: // ]
        this.stack.pop();
        return;
      case 0x3a: // :
        if (top?.kind === "obj") top.expectKey = false;
        return;
      case 0x2c: // ,
        if (top?.kind === "obj") top.expectKey = true;
        return;
    }
  }

  // The name of a value at the current place: its object's key path, or
  // its array's (positions ignored).
  private valuePath(top: Frame | undefined): number {
    if (!top) return ROOT;
    return top.kind === "obj" ? mix(top.base, top.key) : mix(top.base, ARRAY);
  }

  private endString(): void {
    this.inString = false;
    const top = this.stack[this.stack.length - 1];
    if (this.isKey && top?.kind === "obj") top.key = this.keyHash;
  }

  private char(code: number, at: number, len: number, form: CharForm, hexUpper = false): void {
    if (this.isKey) this.keyHash = mix(this.keyHash, code);
    this.emit(this.channel!, code, at, len, form, hexUpper);
  }

  private escapeByte(b: number): void {
    if (this.esc === 1) {
      if (b === 0x75) {
        this.esc = 2;
        this.hex = "";
        return;
      }
      this.esc = 0;
      this.char(SIMPLE_ESCAPES[b] ?? b, this.escAt, 2, "esc");
      return;
    }
    this.hex += String.fromCharCode(b);
    if (this.hex.length < 4) return;
    this.esc = 0;
    const code = /^[0-9a-fA-F]{4}$/.test(this.hex) ? parseInt(this.hex, 16) : 0xfffd;
    this.char(code, this.escAt, 6, "u", /[A-F]/.test(this.hex));
  }
}

const SIMPLE_ESCAPES: Record<number, number> = { 0x22: 0x22, 0x5c: 0x5c, 0x2f: 0x2f, 0x62: 8, 0x66: 12, 0x6e: 10, 0x72: 13, 0x74: 9 };

// SSE framing (https://html.spec.whatwg.org/multipage/server-sent-events.html):
// lines end in CRLF, LF or CR; `data:` lines (one optional space after the
// colon) carry the event's data; an empty line ends the event. A data
// line's payload goes to the JSON reader in one run when the event's data
// starts like JSON, else byte by byte to the `(data)` channel.
class SseReader {
  private field = "";
  private inField = true;
  private skipSpace = false;
  private isData = false;
  private lastCR = false;
  private mode: "undecided" | "json" | "text" = "undecided";
  // Bytes of a leading UTF-8 byte order mark seen so far: a client's UTF-8
  // decoding drops it (the spec: one leading U+FEFF), so the first line is
  // read without it, or a BOM would hide the first event's data from us
  // and not from the agent. 3: past the start.
  private bom = 0;

  constructor(
    private readonly json: JsonReader,
    private readonly text: (b: number, at: number) => void,
  ) {}

  feed(bytes: Uint8Array, base: number): void {
    let i = 0;
    while (i < bytes.length) {
      const b = bytes[i]!;
      if (!this.inField && this.isData && !this.skipSpace && this.mode !== "undecided" && b !== 0x0a && b !== 0x0d) {
        // The rest of a data line, up to its end.
        let j = i;
        while (j < bytes.length && bytes[j] !== 0x0a && bytes[j] !== 0x0d) j++;
        if (this.mode === "json") this.json.feed(bytes, i, j, base + i);
        else for (let k = i; k < j; k++) this.text(bytes[k]!, base + k);
        this.lastCR = false;
        i = j;
        continue;
      }
      this.byte(b, base + i);
      i++;
    }
  }

  private byte(b: number, at: number): void {
    if (this.bom < 3) {
      if (b === BOM[this.bom]) {
        this.bom++;
        return;
      }
      this.bom = 3;
    }
    if (b === 0x0a && this.lastCR) {
      this.lastCR = false;
      return;
    }
    this.lastCR = b === 0x0d;
    if (b === 0x0a || b === 0x0d) return this.endLine();
    if (this.inField) {
      if (b === 0x3a) {
        this.inField = false;
        this.isData = this.field === "data";
        this.skipSpace = true;
      } else if (this.field.length < 16) this.field += String.fromCharCode(b);
      return;
    }
    if (this.skipSpace) {
      this.skipSpace = false;
      if (b === 0x20) return;
    }
    if (!this.isData) return;
    if (this.mode === "undecided") {
      if (b === 0x20 || b === 0x09) return;
      this.mode = b === 0x7b || b === 0x5b || b === 0x22 ? "json" : "text";
    }
    if (this.mode === "json") this.json.feed(ONE.fill(b), 0, 1, at);
    else this.text(b, at);
  }

  private endLine(): void {
    // A `data` line with no colon carries an empty value.
    if (this.inField && this.field === "") {
      // End of the event: its JSON is complete (or never will be).
      this.json.reset();
      this.mode = "undecided";
    }
    // Lines of one event's data are joined by a newline, which JSON needs
    // nowhere; leaving it out also joins a string split over two lines.
    this.field = "";
    this.inField = true;
    this.isData = false;
  }
}

const ONE = new Uint8Array(1);
const BOM = [0xef, 0xbb, 0xbf];

export interface TextPush {
  matches: TextMatch[];
}

// The text view of one response body.
export class TextView {
  private readonly channels = new Map<number, Channel>();
  private readonly json: JsonReader;
  private readonly sse: SseReader | null;
  private offset = 0;
  private matches: TextMatch[] = [];

  constructor(
    private readonly auto: Automaton,
    private readonly lengths: readonly number[],
    eventStream: boolean,
  ) {
    const onChar = this.onChar.bind(this);
    this.json = new JsonReader(onChar, (name) => this.channelFor(name), auto.starts);
    if (eventStream) {
      const data = this.channelFor(1);
      this.sse = new SseReader(this.json, (b, at) => onChar(data, b, at, 1, "lit", false));
    } else this.sse = null;
  }

  // Reads the next raw bytes; returns the credentials they completed.
  push(chunk: Uint8Array): TextMatch[] {
    this.matches = [];
    if (this.sse) this.sse.feed(chunk, this.offset);
    else this.json.feed(chunk, 0, chunk.length, this.offset);
    this.offset += chunk.length;
    return this.matches;
  }

  // The earliest raw offset some character that could still be part of a
  // credential came from (Infinity: none).
  get pendingFrom(): number {
    let min = this.json.openFrom;
    for (const ch of this.channels.values()) {
      const h = this.auto.hold[ch.state]!;
      if (h > 0) min = Math.min(min, ch.tail[ch.tail.length - h]!.at);
    }
    return min;
  }

  private channelFor(name: number): Channel {
    let ch = this.channels.get(name);
    if (ch) return ch;
    // Past the cap, unrelated fields share one channel: a credential can
    // only complete in it by being there, never by accident.
    const key = this.channels.size >= MAX_CHANNELS ? 0 : name;
    ch = this.channels.get(key);
    if (!ch) this.channels.set(key, (ch = { state: 0, tail: [] }));
    return ch;
  }

  // The per-character step: one table lookup; a character is remembered
  // only while it could be part of a credential.
  private onChar(ch: Channel, code: number, at: number, len: number, form: CharForm, hexUpper: boolean): void {
    const a = this.auto;
    const state = code > 0xff ? 0 : a.next[ch.state * 256 + code]!;
    ch.state = state;
    if (state === 0) {
      if (ch.tail.length > 0) ch.tail.length = 0;
      return;
    }
    const d = a.depth[state]!;
    ch.tail.push({ at, len, form, hexUpper });
    if (ch.tail.length > d) ch.tail.splice(0, ch.tail.length - d);
    const n = a.out[state]!;
    if (n >= 0) {
      this.matches.push({ needle: n, chars: ch.tail.slice(ch.tail.length - this.lengths[n]!) });
      // Replaced in place now: nothing of it is pending any more.
      ch.state = 0;
      ch.tail = [];
    }
  }
}

// Compiles the credential values once; each response gets its own view.
export function textViews(needles: readonly TextNeedle[]): (eventStream: boolean) => TextView {
  const auto = new Automaton(needles);
  const lengths = needles.map((n) => n.value.length);
  return (eventStream) => new TextView(auto, lengths, eventStream);
}
