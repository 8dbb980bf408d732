import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { UserError } from "../../../src/errors.ts";
import { YAML_CODES } from "../../../src/manifest/frontmatter.ts";
import { parseAgent, parseBottle } from "../../../src/manifest/parse.ts";

// Every validation error a single file can produce, with its exact text.
const B = "/h/bottles/dev.md";
const A = "/h/agents/coder.md";

function bottleError(text: string): string {
  try {
    parseBottle(B, text);
  } catch (e) {
    expect(e).toBeInstanceOf(UserError);
    const msg = (e as Error).message;
    expect(msg).not.toContain("\n");
    return msg;
  }
  throw new Error("expected a validation error");
}

function agentError(text: string): string {
  try {
    parseAgent(A, text);
  } catch (e) {
    expect(e).toBeInstanceOf(UserError);
    return (e as Error).message;
  }
  throw new Error("expected a validation error");
}

const fm = (yaml: string) => `---\n${yaml}\n---\n`;

describe("unknown keys", () => {
  test("top level, with did-you-mean and the allowed keys", () => {
    expect(bottleError(fm("egres: []"))).toBe(
      `${B}: egres: unknown key; did you mean "egress"? allowed keys: extends, env, egress, git, image, resources, supervise`,
    );
  });
  test("nested in a list item: key path names the index", () => {
    expect(bottleError(fm("egress:\n  - host: a.com\n    metods: [GET]"))).toBe(
      `${B}: egress[0].metods: unknown key; did you mean "methods"? allowed keys: host, ports, methods, paths, tls, dlp, auth, allow_private, git_push`,
    );
  });
  test("a swapped pair of letters is one edit", () => {
    expect(bottleError(fm("egress:\n  - hots: a.com"))).toStartWith(`${B}: egress[0].hots: unknown key; did you mean "host"?`);
  });
  test("deeply nested: auth", () => {
    expect(bottleError(fm("egress:\n  - host: a.com\n    auth: {token_ref: T, shceme: Bearer}"))).toBe(
      `${B}: egress[0].auth.shceme: unknown key; did you mean "scheme"? allowed keys: header, scheme, token_ref`,
    );
  });
  test("nothing close: no suggestion, but the allowed list", () => {
    expect(bottleError(fm("zzzzzz: 1"))).toBe(`${B}: zzzzzz: unknown key; allowed keys: extends, env, egress, git, image, resources, supervise`);
  });
  test("git entries", () => {
    expect(bottleError(fm("git:\n  - name: p\n    url: x\n    identity: k"))).toStartWith(
      `${B}: git[0].identity: unknown key; did you mean "identity_file"?`,
    );
  });
  test("agents", () => {
    expect(agentError(fm("bottle: dev\nskils: [a]"))).toBe(
      `${A}: skils: unknown key; did you mean "skills"? allowed keys: bottle, skills, workspace, name, description, model, color, memory`,
    );
  });
  test("a key with control characters is shown escaped, on one line", () => {
    const msg = bottleError(fm('"evil\\nkey": 1'));
    expect(msg).toStartWith(`${B}: "evil\\nkey": unknown key`);
  });
  test("several unknown keys are counted", () => {
    expect(bottleError(fm("aaa: 1\nbbb: 2"))).toContain("(and 1 more unknown key)");
  });
});

describe("wrong types name the file and key path", () => {
  test("env value must be a string", () => {
    expect(bottleError(fm("env:\n  PORT: 8080"))).toBe(`${B}: env.PORT: must be a string (quote it if needed), got a number`);
  });
  test("env must be a mapping", () => {
    expect(bottleError(fm("env: [a]"))).toBe(`${B}: env: must be a mapping (key: value), got a list`);
  });
  test("egress must be a list", () => {
    expect(bottleError(fm("egress: api.github.com"))).toBe(`${B}: egress: must be a list, got a string`);
  });
  test("resources.cpus must be a number", () => {
    expect(bottleError(fm('resources: {cpus: "2"}'))).toBe(`${B}: resources.cpus: must be a number, got a string`);
  });
  test("supervise must be a boolean", () => {
    expect(bottleError(fm("supervise: yes"))).toBe(`${B}: supervise: must be true or false, got a string`);
  });
  test("missing required key", () => {
    expect(bottleError(fm("egress:\n  - ports: [443]"))).toBe(`${B}: egress[0].host: required key is missing`);
    expect(agentError(fm("skills: [a]"))).toBe(`${A}: bottle: required key is missing`);
  });
  test("enum values are listed", () => {
    expect(bottleError(fm("egress:\n  - host: a.com\n    tls: maybe"))).toBe(`${B}: egress[0].tls: must be one of "terminate", "passthrough"`);
    expect(agentError(fm("bottle: dev\nworkspace: home"))).toBe(`${A}: workspace: must be one of "copy", "mount", "none"`);
  });
  test("bad env variable name", () => {
    expect(bottleError(fm("env:\n  bad-name: x"))).toBe(`${B}: env.bad-name: invalid key name: must be an environment variable name`);
  });
  test("bad formats", () => {
    expect(bottleError(fm("egress:\n  - host: a.com\n    paths: [repos]"))).toBe(`${B}: egress[0].paths[0]: must start with /`);
    expect(agentError(fm("bottle: Dev"))).toBe(`${A}: bottle: must be a name like my-bottle (a-z, 0-9, -)`);
    expect(bottleError(fm("egress:\n  - host: a.com\n    auth: {token_ref: not-a-var}"))).toBe(
      `${B}: egress[0].auth.token_ref: must be an environment variable name`,
    );
  });
  test("empty lists and empty auth", () => {
    expect(bottleError(fm("egress:\n  - host: a.com\n    methods: []"))).toBe(`${B}: egress[0].methods: must not be empty (leave the key out instead)`);
    expect(bottleError(fm("egress:\n  - host: a.com\n    auth: {}"))).toBe(`${B}: egress[0].auth.token_ref: required key is missing`);
  });
  test("bounds", () => {
    expect(bottleError(fm(`image: "${"x".repeat(600)}"`))).toBe(`${B}: image: too long (max 512)`);
    expect(bottleError(fm("resources: {cpus: 0}"))).toBe(`${B}: resources.cpus: too small (min 1)`);
  });
  test("the first problem is reported, with a count of the rest", () => {
    expect(bottleError(fm("image: 1\nsupervise: 2"))).toBe(`${B}: image: must be a string (quote it if needed), got a number (and 1 more problem)`);
  });
});

describe("file-level problems", () => {
  test("no frontmatter", () => {
    expect(bottleError("just text")).toBe(`${B}: no YAML frontmatter; the file must start with a line '---' and the settings must end with another '---'`);
  });
  test("unclosed frontmatter", () => {
    expect(bottleError("---\nimage: x\n")).toBe(`${B}: frontmatter is not closed; add a line '---' after the settings`);
  });
  test("duplicate keys are errors", () => {
    expect(bottleError(fm("image: a\nimage: b"))).toBe(`${B}: invalid YAML at frontmatter line 2, column 1: duplicate key image`);
  });
  test("tabs", () => {
    expect(bottleError(fm("env:\n\tA: x"))).toBe(`${B}: invalid YAML at frontmatter line 2, column 1: tab used for indentation (use spaces)`);
  });
  test("YAML errors never quote the source (it may hold a secret)", () => {
    const msg = bottleError(fm('env:\n  TOKEN: "sk-SECRET-VALUE\n  X: y'));
    expect(msg).toStartWith(`${B}: invalid YAML`);
    expect(msg).not.toContain("SECRET");
  });
  test("a list, mapping or alias as a key: one line naming the place, and no library warning on stderr", () => {
    // The YAML library turns such a key into a string and warns about it
    // through process.emitWarning, quoting the key: a second stderr line
    // for the user, and the key may hold a secret.
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.message);
    process.on("warning", onWarning);
    try {
      expect(bottleError(fm("image: a\n? [complex, key]\n: value"))).toBe(`${B}: invalid YAML at frontmatter line 2, column 3: a list, mapping or alias used as a key at the top level (keys are plain names)`);
      expect(bottleError(fm("env:\n  ? {sk-SECRET-VALUE: 1}\n  : x"))).toBe(`${B}: invalid YAML at frontmatter line 2, column 5: a list, mapping or alias used as a key in env (keys are plain names)`);
      expect(bottleError(fm("egress:\n  - host: a.com\n    ? [x]\n    : z"))).toBe(`${B}: invalid YAML at frontmatter line 3, column 7: a list, mapping or alias used as a key in egress[0] (keys are plain names)`);
      expect(bottleError(fm("image: &a x\n*a : y"))).toBe(`${B}: invalid YAML at frontmatter line 2, column 1: a list, mapping or alias used as a key at the top level (keys are plain names)`);
    } finally {
      process.off("warning", onWarning);
    }
    // emitWarning delivers on a later turn.
    return Bun.sleep(20).then(() => expect(warnings).toEqual([]));
  });
  test("every error code of the YAML library has a description of ours (its text is never shown)", () => {
    // The library's list: the ErrorCode union of the installed version.
    const dts = readFileSync(join(dirname(require.resolve("yaml")), "errors.d.ts"), "utf8");
    const union = /export type ErrorCode =([^;]+);/.exec(dts)![1]!;
    const codes = [...union.matchAll(/'([A-Z0-9_]+)'/g)].map((m) => m[1]!);
    expect(codes).toContain("IMPOSSIBLE");
    expect(codes.length).toBeGreaterThan(20);
    expect(codes.filter((c) => !YAML_CODES[c])).toEqual([]);
  });
  test("the library's 'impossible' state reads as what to fix", () => {
    expect(bottleError(fm("{[x]: y}: z\n# c\n{[x]: y}: z"))).toBe(
      `${B}: invalid YAML at frontmatter line 3, column 1: a structure the parser cannot read (keys are plain names, like name: value)`,
    );
    expect(bottleError(fm("image: a\nenv: !!str !!int 1"))).toBe(`${B}: invalid YAML at frontmatter line 2, column 12: more than one tag on a node`);
    expect(bottleError(fm("image: a\nenv: [b: c\n  d: e]"))).toBe(`${B}: invalid YAML at frontmatter line 2, column 10: a key spans several lines`);
  });
  test("frontmatter must be a mapping", () => {
    expect(bottleError(fm("- a\n- b"))).toBe(`${B}: frontmatter must be a mapping of keys (key: value), not a list`);
    expect(bottleError(fm("just a string"))).toBe(`${B}: frontmatter must be a mapping of keys (key: value), not a single value`);
  });
  test("binary and non-UTF-8", () => {
    expect(bottleError("---\nimage: a\u0000b\n---\n")).toBe(`${B}: contains binary control characters; a manifest must be plain text`);
    try {
      parseBottle(B, new Uint8Array([0x2d, 0x2d, 0x2d, 0x0a, 0xff, 0xfe, 0x0a]));
      throw new Error("no error");
    } catch (e) {
      expect((e as Error).message).toBe(`${B}: not UTF-8 text; save the file as UTF-8`);
    }
  });
  test("too large", () => {
    expect(bottleError(fm(`# ${"x".repeat(300 * 1024)}`))).toStartWith(`${B}: file is too large (`);
    expect(bottleError(fm(`# ${"x".repeat(70 * 1024)}`))).toBe(`${B}: frontmatter is too large (max 65536 bytes)`);
  });
  test("alias bombs are bounded", () => {
    const lines = ["a: &a [x, x, x, x, x, x, x, x, x]"];
    for (let i = 0; i < 8; i++) lines.push(`${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [*${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}, *${String.fromCharCode(97 + i)}]`);
    expect(bottleError(fm(lines.join("\n")))).toBe(`${B}: invalid YAML: too many aliases`);
  });
  test("brackets inside quotes are not nesting", () => {
    expect(parseBottle(B, fm(`image: "${"[".repeat(100)}"\nenv:\n  A: '${"{".repeat(100)}'\n  B: don't [x] ${"[".repeat(40)}`)).image).toBe("[".repeat(100));
  });
  test("deep nesting is bounded", () => {
    expect(bottleError(fm(`env: ${"[".repeat(5000)}${"]".repeat(5000)}`))).toBe(`${B}: frontmatter is nested too deeply (max 32 levels)`);
  });
});

describe("valid files", () => {
  test("a full bottle parses, with defaults filled in", () => {
    const b = parseBottle(B, fm("env:\n  A: x\negress:\n  - host: a.com\n    methods: [get]\n    dlp: off\n    auth: {token_ref: T}"));
    expect(b.egress?.[0]).toEqual({
      host: "a.com",
      methods: ["GET"],
      tls: "terminate",
      dlp: "off",
      auth: { header: "Authorization", scheme: "Bearer", token_ref: "T" },
      allow_private: false,
    });
  });
  test("an agent's body is its prompt; CRLF and BOM are fine", () => {
    const a = parseAgent(A, "\uFEFF---\r\nbottle: dev\r\nmodel: opus\r\n---\r\n\r\nDo the work.\r\n");
    expect(a.manifest.bottle).toBe("dev");
    expect(a.prompt).toBe("Do the work.");
  });
  test("an empty bottle is allowed", () => {
    expect(parseBottle(B, "---\n---\n")).toEqual({});
  });
});

describe("allow_private: a scalpel, not a switch", () => {
  const route = (host: string, allow: string) => fm(`egress:\n  - host: "${host}"\n    allow_private: ${allow}`);
  test("true on a wildcard route is refused, with the fix", () => {
    expect(bottleError(route("*.lan.example", "true"))).toBe(
      `${B}: egress[0].allow_private: true on a wildcard route would let any name under it reach every private and loopback address; name the addresses it may reach instead, e.g. allow_private: ["10.0.0.5", "192.168.1.0/24:5432"]`,
    );
  });
  test("true on an exact host, false, and named addresses on a wildcard are accepted", () => {
    for (const [host, allow, want] of [
      ["nas.lan.example", "true", true],
      ["*.lan.example", "false", false],
      ["*.lan.example", '["10.0.0.5", "192.168.1.0/24:5432", "[fd00::1]:443", "fd00::/8"]', ["10.0.0.5", "192.168.1.0/24:5432", "[fd00::1]:443", "fd00::/8"]],
    ] as [string, string, boolean | string[]][]) {
      const m = parseBottle(B, route(host, allow));
      expect(m.egress![0]!.allow_private).toEqual(want);
    }
  });
  test("an entry that is not an address, a CIDR with a port, or too broad is refused by index, never echoed", () => {
    for (const [entry, why] of [
      ["nas.local", "must be an IP address or CIDR, optionally with :port (10.0.0.5, 192.168.1.0/24:5432, [fd00::1]:443)"],
      ["0x7f.1", "must be an IP address or CIDR, optionally with :port (10.0.0.5, 192.168.1.0/24:5432, [fd00::1]:443)"],
      ["10.0.0.5:0", "must have a port from 1 to 65535"],
      ["0.0.0.0/0", "must have a prefix from /8 to /32 (IPv4): name the addresses, not everything"],
      ["::/0", "must have a prefix from /7 to /128 (IPv6): name the addresses, not everything"],
      ["::ffff:10.0.0.5", "must name an IPv4 address as IPv4, not as IPv4-mapped IPv6"],
    ] as const) {
      const msg = bottleError(route("*.lan.example", `["10.0.0.5", "${entry}"]`));
      expect(msg).toBe(`${B}: egress[0].allow_private[1]: ${why}`);
    }
    expect(bottleError(route("a.example", "[]"))).toStartWith(`${B}: egress[0].allow_private`);
    expect(bottleError(route("a.example", '"yes"'))).toStartWith(`${B}: egress[0].allow_private`);
  });
});

describe("git_push", () => {
  test("scan on a terminated DLP route; anything else, or on a route the gate cannot read, is refused", () => {
    expect(parseBottle(B, fm("egress:\n  - host: git.example\n    git_push: scan")).egress![0]!.git_push).toBe("scan");
    expect(parseBottle(B, fm("egress:\n  - host: git.example")).egress![0]!.git_push).toBeUndefined();
    expect(bottleError(fm("egress:\n  - host: git.example\n    git_push: allow"))).toStartWith(`${B}: egress[0].git_push`);
    expect(bottleError(fm("egress:\n  - host: git.example\n    git_push: scan\n    tls: passthrough"))).toBe(
      `${B}: egress[0].git_push: scan needs a route the gate reads: tls: terminate (the default) and dlp: on`,
    );
    expect(bottleError(fm("egress:\n  - host: git.example\n    git_push: scan\n    dlp: off"))).toBe(
      `${B}: egress[0].git_push: scan needs a route the gate reads: tls: terminate (the default) and dlp: on`,
    );
  });
});
