import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseIPv6 } from "../../src/gate/policy/ip.ts";
import { normalizeHost } from "../../src/gate/policy/normalize.ts";
import { caseCount, chance, finding, int, minimize, pick, rng, SEED, type Rng } from "./wire.ts";

// IP-literal spellings, differential: our parser against glibc's inet_aton
// and inet_pton (a tiny C program compiled here: the real resolver's view)
// and against the WHATWG URL parser (new URL: a browser's / fetch's view).
// Wherever a client's parser sees an IP literal, the gate must see one too,
// and the same address; seeing a literal where they see a name is allowed
// (the gate refuses unrouted literals: the safe side).
const V4 = caseCount(15_000);
const V6 = caseCount(5_000);
let dir = "";
let helper = "";

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "cb-ipfuzz-"));
  helper = join(dir, "inet");
  const cc = Bun.spawnSync(["cc", "-O1", "-o", helper, join(import.meta.dir, "inet-aton.c")], { stderr: "pipe" });
  if (cc.exitCode !== 0) throw new Error(`cannot compile the inet_aton reference (is a C compiler installed?): ${cc.stderr}`);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function glibc(lines: string[]): string[] {
  const r = Bun.spawnSync([helper], { stdin: Buffer.from(lines.join("\n") + "\n"), stdout: "pipe" });
  return r.stdout.toString().trimEnd().split("\n");
}

function v4part(r: Rng): string {
  switch (int(r, 7)) {
    case 0:
      return String(int(r, 256));
    case 1:
      return String(int(r, 2 ** 32 + 10));
    case 2:
      return pick(r, ["0x", "0X"]) + int(r, 2 ** int(r, 34)).toString(16);
    case 3:
      return "0" + int(r, 2 ** int(r, 34)).toString(8);
    case 4:
      return "0".repeat(int(r, 6)) + String(int(r, 300));
    case 5:
      return pick(r, ["", "0x", "0", "00", "08", "09", "0xg", "1e2", "ff", "0x0x1", "+1", "-1", "1a", "0xFFFFFFFF", "4294967296", "99999999999"]);
    default:
      return Array.from({ length: 1 + int(r, 4) }, () => pick(r, "0123456789abcdefxX".split(""))).join("");
  }
}

function v4(r: Rng): string {
  const n = 1 + int(r, 5);
  let s = Array.from({ length: n }, () => v4part(r)).join(".");
  if (chance(r, 0.05)) s += ".";
  return s.slice(0, 64);
}

function v6(r: Rng): string {
  const hex = () => int(r, 2 ** (4 * (1 + int(r, 5)))).toString(16);
  const groups = Array.from({ length: int(r, 10) }, () => (chance(r, 0.1) ? pick(r, ["", "g", "12345", "0000"]) : hex()));
  if (chance(r, 0.5)) groups.splice(int(r, groups.length + 1), 0, "");
  let s = groups.join(":");
  if (chance(r, 0.3)) s = s.replace(/^:?/, "::");
  if (chance(r, 0.2)) s += (s.endsWith(":") ? "" : ":") + `${int(r, 300)}.${int(r, 300)}.${int(r, 300)}.${int(r, 300)}`;
  if (chance(r, 0.05)) s += "%eth0";
  if (chance(r, 0.1)) s = chance(r, 0.5) ? s.toUpperCase() : s + ":";
  return s;
}

// What the WHATWG URL parser makes of a host: an IPv4 address, a domain, or
// an error.
function urlHost(s: string): { ip: string } | { domain: string } | null {
  try {
    const h = new URL(`http://${s}/`).hostname;
    return /^\d+\.\d+\.\d+\.\d+$/.test(h) ? { ip: h } : { domain: h };
  } catch {
    return null;
  }
}

test(`IPv4 spellings: a host inet_aton or URL read as an IPv4 is that IPv4 to the gate, or refused (${V4} cases, seed ${SEED})`, () => {
  const r = rng(4);
  const inputs = Array.from({ length: V4 }, () => v4(r));
  const ref = glibc(inputs.map((s) => `4 ${s}`));
  // The boundary is normalizeHost (what the policy sees): an IP literal, a
  // name, or refused. A numeric-looking host that is no valid literal is
  // refused, which is safe; a literal read as a name, or as another address,
  // is not.
  const verdict = (s: string, aton: string): string | null => {
    const n = normalizeHost(s);
    const mine = !n.ok ? "refused" : n.isIp ? `ok ${n.host}` : `name ${n.host}`;
    if (mine === "refused") return null;
    if (aton !== "no" && mine !== aton) return `ours ${mine}, inet_aton ${aton}`;
    const u = urlHost(s);
    if (u && "ip" in u && mine !== `ok ${u.ip}`) return `ours ${mine}, URL says IPv4 ${u.ip}`;
    return null;
  };
  for (const [i, s] of inputs.entries()) {
    const why = verdict(s, ref[i]!);
    if (why === null) continue;
    const small = minimize([...s], (cs) => {
      const t = cs.join("");
      return !t.includes("\n") && verdict(t, glibc([`4 ${t}`])[0]!) !== null;
    }).join("");
    throw finding("IPv4", i, JSON.stringify(small), verdict(small, glibc([`4 ${small}`])[0]!) ?? why);
  }
  expect(ref.length).toBe(V4);
});

test(`IPv6 spellings: whatever inet_pton or URL read as an IPv6, ours reads the same (${V6} cases, seed ${SEED})`, () => {
  const r = rng(6);
  const inputs = Array.from({ length: V6 }, () => v6(r));
  const ref = glibc(inputs.map((s) => `6 ${s}`));
  const verdict = (s: string, pton: string): string | null => {
    const ours = parseIPv6(s);
    const mine = ours === null ? "no" : `ok ${ours.map((g) => g.toString(16)).join(" ")}`;
    if (pton !== "no" && mine !== pton) return `ours ${mine}, inet_pton ${pton}`;
    let viaUrl: string | null = null;
    try {
      const h = new URL(`http://[${s}]/`).hostname.slice(1, -1);
      const g = parseIPv6(h);
      viaUrl = g ? `ok ${g.map((x) => x.toString(16)).join(" ")}` : `unparsed ${h}`;
    } catch {
      viaUrl = "no";
    }
    // URL refuses some spellings glibc takes (zone ids); where both parse,
    // they must agree.
    if (viaUrl !== "no" && mine !== "no" && viaUrl !== mine) return `ours ${mine}, URL ${viaUrl}`;
    return null;
  };
  for (const [i, s] of inputs.entries()) {
    const why = verdict(s, ref[i]!);
    if (why === null) continue;
    const small = minimize([...s], (cs) => verdict(cs.join(""), glibc([`6 ${cs.join("")}`])[0]!) !== null).join("");
    throw finding("IPv6", i, JSON.stringify(small), verdict(small, glibc([`6 ${small}`])[0]!) ?? why);
  }
  expect(ref.length).toBe(V6);
});
