// Generators of malformed manifests. Every generated file is invalid BY
// CONSTRUCTION (each mutation breaks a rule the loader enforces), so the
// only acceptable outcome is a clean one-line UserError.

export const PLANTED = "fuzzPLANTEDsecret7e1d";

export { prng } from "../helpers/prng.ts";

type R = () => number;
const pick = <T>(r: R, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
const int = (r: R, lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));

const VALID_BOTTLE_LINES = [
  "extends: claude",
  "env:",
  `  SECRET_LIT: "${PLANTED}"`,
  '  FROM_HOST: "${SOME_VAR}"',
  "egress:",
  "  - host: api.github.com",
  "    methods: [GET]",
  "    paths: [/repos/]",
  "    auth: {token_ref: GH_TOKEN}",
  "git:",
  "  - name: proj",
  "    url: git@github.com:x/proj.git",
  "resources: {cpus: 2, memory: 2048}",
];
const VALID_AGENT_LINES = ["bottle: claude", "skills: [a, b]", "workspace: copy", "model: opus"];

export interface Case {
  kind: "bottle" | "agent";
  category: string;
  bytes: Uint8Array;
}

const enc = (s: string) => new TextEncoder().encode(s);
const doc = (lines: string[], body = "body") => `---\n${lines.join("\n")}\n---\n${body}\n`;

function badYaml(r: R, kind: Case["kind"]): string {
  const base = kind === "bottle" ? [...VALID_BOTTLE_LINES] : [...VALID_AGENT_LINES];
  // Only lines with "key: value" can have their value broken.
  const candidates = base.flatMap((l, idx) => (l.includes(": ") ? [idx] : []));
  const i = pick(r, candidates);
  const breakers: ((l: string) => string[])[] = [
    (l) => [l.replace(/: /, ': "')], // unclosed double quote
    (l) => [l.replace(/: /, ": '")], // unclosed single quote
    (l) => [l.replace(/: /, ": [")], // unclosed flow sequence
    (l) => [l.replace(/: /, ": {")], // unclosed flow map
    (l) => [l], // duplicate key: handled below
    (l) => ["\t" + l.trimStart()], // tab indentation
    (l) => [l, "  : : :"], // stray colons
    (l) => [l, "- a", "b: c"], // mixing a sequence into a map
    (l) => [l, "x: *undefined_alias"], // undefined alias
    (l) => [l, "y: !!python/object:os.system ls"], // unknown tag
    (l) => [l, `z: "bad \\q escape"`], // invalid escape
    (l) => [l, "? [complex, key]", ": value"], // complex key
  ];
  const b = pick(r, breakers);
  const broken = b(base[i]!);
  // A duplicate top-level key is only an error if it really duplicates:
  // force that case to duplicate the first top-level key.
  if (b === breakers[4]) {
    const top = base.find((l) => /^[a-z]/.test(l))!;
    base.splice(i + 1, 0, top.split(":")[0] + ": dup");
    return doc(base);
  }
  base.splice(i, 1, ...broken);
  return doc(base);
}

const WRONG_TYPES_BOTTLE = [
  "env: [a, b]",
  "env: just-a-string",
  "env:\n  N: 42",
  "env:\n  N: true",
  "env:\n  N: [x]",
  "env:\n  N: {a: b}",
  "egress: api.github.com",
  "egress: {host: a.com}",
  "egress:\n  - 42",
  "egress:\n  - host: [a, b]",
  "egress:\n  - host: a.com\n    ports: [0]",
  "egress:\n  - host: a.com\n    ports: [70000]",
  "egress:\n  - host: a.com\n    ports: 443",
  "egress:\n  - host: a.com\n    methods: GET",
  "egress:\n  - host: a.com\n    methods: [G-T]",
  "egress:\n  - host: a.com\n    paths: [nope]",
  "egress:\n  - host: a.com\n    tls: sometimes",
  "egress:\n  - host: a.com\n    dlp: maybe",
  "egress:\n  - host: a.com\n    auth: yes",
  "egress:\n  - host: a.com\n    auth: {}",
  "egress:\n  - host: a.com\n    auth: {token_ref: 1abc}",
  "egress:\n  - host: 'not a host'",
  "egress:\n  - host: ''",
  "egress:\n  - host: a.com\n    allow_private: 1",
  "git: x",
  "git:\n  - name: UPPER\n    url: x",
  "git:\n  - name: p",
  "git:\n  - name: p\n    url: ''",
  "git:\n  - name: p\n    url: x\n    allow_force: 'yes'",
  "image: 12",
  "image: ''",
  "resources: 4",
  "resources: {cpus: 1.5}",
  "resources: {memory: 1}",
  "supervise: 'true'",
  "extends: Not-A-Name",
  "extends: [claude]",
];
const WRONG_TYPES_AGENT = [
  "bottle: 12",
  "bottle: [claude]",
  "bottle: Bad_Name",
  "skills: a",
  "skills: [../etc]",
  "skills: [{a: b}]",
  "workspace: home",
  "workspace: true",
];

function wrongType(r: R, kind: Case["kind"]): string {
  if (kind === "bottle") return doc([...(r() < 0.5 ? ["extends: claude"] : []), pick(r, WRONG_TYPES_BOTTLE)]);
  const line = pick(r, WRONG_TYPES_AGENT);
  return doc(line.startsWith("bottle:") ? [line] : ["bottle: claude", line]);
}

const ALLOWED = new Set([
  "extends", "env", "egress", "git", "image", "resources", "supervise", "bottle", "skills", "workspace", "name", "description", "model", "color", "memory",
  "host", "ports", "methods", "paths", "tls", "dlp", "auth", "allow_private", "header", "scheme", "token_ref", "url", "identity_file", "host_key",
  "branches", "allow_force", "allow_delete", "cpus",
]);

function randomKey(r: R): string {
  const alphabet = "abcdefghijklmnopqrstuvwxyz_";
  for (;;) {
    const base = pick(r, ["egres", "envv", "hosts", "token", "method", "path", "imgae", "bottles", "skill", "x", "runtime", "ssh", "tokens", "cred_proxy"]);
    const k = r() < 0.5 ? base : base + Array.from({ length: int(r, 1, 6) }, () => pick(r, alphabet.split(""))).join("");
    if (!ALLOWED.has(k)) return k;
  }
}

function unknownKey(r: R, kind: Case["kind"]): string {
  const k = randomKey(r);
  if (kind === "agent") return doc(["bottle: claude", `${k}: 1`]);
  const where = int(r, 0, 3);
  if (where === 0) return doc([...VALID_BOTTLE_LINES, `${k}: value`]);
  if (where === 1) return doc(["egress:", "  - host: a.com", `    ${k}: 1`]);
  if (where === 2) return doc(["egress:", "  - host: a.com", `    auth: {token_ref: T, ${k}: 1}`]);
  return doc(["git:", "  - name: p", "    url: x", `    ${k}: 1`]);
}

function huge(r: R, kind: Case["kind"]): string {
  const n = (k: number) => "x".repeat(k);
  const variants =
    kind === "agent"
      ? [() => doc(["bottle: claude"], n(300 * 1024)), () => doc(["bottle: " + "a".repeat(100)]), () => doc(["bottle: claude", `skills: [${Array.from({ length: 300 }, (_, i) => `s${i}`).join(", ")}]`])]
      : [
          () => doc([`image: ${n(600)}`]),
          () => doc(["env:", `  BIG: "${n(70000)}"`]),
          () => doc([`# ${n(70 * 1024)}`, "image: x"]),
          () => doc(["egress:", ...Array.from({ length: 520 }, (_, i) => `  - host: h${i}.com`)]),
          () => doc(["egress:", "  - host: a.com", `    paths: [/${n(3000)}]`]),
          () => doc(["egress:", `  - host: ${"a".repeat(300)}.com`]),
          () => doc(["env:", ...Array.from({ length: 600 }, (_, i) => `  V${i}: x`)]),
          () => doc(["git:", "  - name: p", `    url: ${n(3000)}`]),
          () => doc([`env: ${"[".repeat(int(r, 40, 3000))}${"]".repeat(40)}`]),
          () => {
            const lines = ["a0: &a0 [x, x, x, x, x, x, x, x]"];
            for (let i = 1; i < 10; i++) lines.push(`a${i}: &a${i} [${Array(8).fill(`*a${i - 1}`).join(", ")}]`);
            return doc(lines);
          },
          () => `---\n${n(300 * 1024)}`,
        ];
  return pick(r, variants)();
}

function structural(r: R, kind: Case["kind"]): string {
  const body = kind === "bottle" ? VALID_BOTTLE_LINES.join("\n") : VALID_AGENT_LINES.join("\n");
  return pick(r, [
    () => body, // no frontmatter at all
    () => `---\n${body}\n`, // not closed
    () => `--- \n- a\n- b\n---\n`, // top-level list
    () => `---\njust a scalar\n---\n`,
    () => `---\n42\n---\n`,
    () => `\n---\n${body}\n---\n`, // leading blank line: not frontmatter
    () => `# Title\n---\n${body}\n---\n`,
    () => "",
    () => (kind === "agent" ? "---\n---\nbody without bottle\n" : "---\nenv:\n  A: 1\n---\n"),
  ])();
}

function binary(r: R, kind: Case["kind"]): Uint8Array {
  const text = enc(kind === "bottle" ? doc(VALID_BOTTLE_LINES) : doc(VALID_AGENT_LINES));
  const out = Array.from(text);
  const bad = [
    [0x00],
    [0xff],
    [0xfe, 0xff],
    [0xc3],
    [0xe2, 0x82],
    [0xed, 0xa0, 0x80], // UTF-16 surrogate encoded in UTF-8: invalid
    [0x07],
    [0x1b],
    [0x7f],
    [0xc0, 0xaf], // overlong
  ];
  const count = int(r, 1, 8);
  for (let i = 0; i < count; i++) out.splice(int(r, 0, out.length), 0, ...pick(r, bad));
  // Random noise too, but the planted bad sequence above guarantees invalidity.
  for (let i = 0; i < int(r, 0, 20); i++) out.splice(int(r, 0, out.length), 0, int(r, 0, 255));
  return Uint8Array.from(out);
}

export function generate(r: R, n: number): Case[] {
  const cats: [string, (r: R, k: Case["kind"]) => string | Uint8Array][] = [
    ["bad-yaml", badYaml],
    ["wrong-type", wrongType],
    ["unknown-key", unknownKey],
    ["huge", huge],
    ["structural", structural],
    ["binary", binary],
  ];
  const out: Case[] = [];
  for (let i = 0; i < n; i++) {
    const [category, gen] = cats[i % cats.length]!;
    const kind: Case["kind"] = r() < 0.6 ? "bottle" : "agent";
    const v = gen(r, kind);
    out.push({ kind, category, bytes: typeof v === "string" ? enc(v) : v });
  }
  return out;
}
