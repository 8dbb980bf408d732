import { describe, expect, test } from "bun:test";
import { parse } from "smol-toml";
import { UserError } from "../../../../src/errors.ts";
import { RENDERED_KEYS, assertSealedSmolfile, renderEnv, renderSmolfile } from "../../../../src/backends/smolmachines/smolfile.ts";
import { validateSmolfile } from "../../../fixtures/fake-smolvm/smolfile.ts";

const nasty: Record<string, string> = {
  QUOTES: `say "hi" and 'bye'`,
  SPACES: "a b  c",
  NEWLINES: "line1\nline2\r\nline3",
  BACKSLASH: "C:\\path\\to\\x \\n not-a-newline",
  TOML_LOOKALIKE: `x" ]\n[network]\nallow_hosts = ["evil"]\nnet = true #`,
  UNICODE: "héllo wörld ✓ 🍾",
  EQUALS: "a=b==c",
  TABS_INSIDE: "a\tb",
  EMPTY: "",
  HASH: "# not a comment",
};

describe("renderSmolfile", () => {
  test("env values with quotes, spaces, newlines round-trip through smol-toml", () => {
    const text = renderSmolfile({ env: nasty });
    const doc = parse(text) as { env: string[] };
    const back: Record<string, string> = {};
    for (const e of doc.env) {
      const i = e.indexOf("=");
      back[e.slice(0, i)] = e.slice(i + 1);
    }
    expect(back).toEqual(nasty);
  });

  test("env is sorted K=V", () => {
    const doc = parse(renderSmolfile({ env: { ZED: "1", ALPHA: "2", MID: "3" } })) as { env: string[] };
    expect(doc.env).toEqual(["ALPHA=2", "MID=3", "ZED=1"]);
  });

  test("a TOML-looking value cannot inject keys or tables", () => {
    const text = renderSmolfile({ env: { X: nasty.TOML_LOOKALIKE as string } });
    const doc = parse(text) as Record<string, unknown>;
    expect(Object.keys(doc)).toEqual(["env"]);
    assertSealedSmolfile(text);
  });

  test("resources, workdir, entrypoint and volumes", () => {
    const text = renderSmolfile({
      env: { A: "1" },
      workdir: "/workspace",
      cpus: 2,
      memory: 4096,
      entrypoint: ["socat", "TCP-LISTEN:3128"],
      volumes: [{ host: "/home/u/proj", guest: "/workspace" }, { host: "/ro", guest: "/ro", readOnly: true }],
    });
    const doc = parse(text, { integersAsBigInt: true }) as Record<string, unknown>;
    expect(doc.cpus).toBe(2n);
    expect(doc.memory).toBe(4096n);
    expect(doc.workdir).toBe("/workspace");
    expect(doc.entrypoint).toEqual(["socat", "TCP-LISTEN:3128"]);
    expect(doc.volumes).toEqual(["/home/u/proj:/workspace", "/ro:/ro:ro"]);
  });

  test("never emits net, [network], image or any key outside the rendered set", () => {
    const text = renderSmolfile({ env: nasty, workdir: "/w", cpus: 1, memory: 512, cmd: ["x"], entrypoint: ["y"], volumes: [{ host: "/a", guest: "/b" }] });
    const doc = parse(text) as Record<string, unknown>;
    for (const k of Object.keys(doc)) expect(RENDERED_KEYS as readonly string[]).toContain(k);
    expect(text).not.toMatch(/^\s*net\s*=/m);
    expect(text).not.toMatch(/^\s*\[network\]/m);
    expect(text).not.toMatch(/^\s*image\s*=/m);
  });

  test("every rendered file passes the fake smolvm's strict schema (which mirrors smolvm's)", () => {
    const text = renderSmolfile({ env: nasty, workdir: "/w", cpus: 255, memory: 8192, entrypoint: ["a"], cmd: ["b"], volumes: [{ host: "/a", guest: "/b" }] });
    expect(validateSmolfile(text)).toEqual({ ok: true, doc: expect.anything() });
  });

  test("refuses values smolvm would change (leading/trailing whitespace) and names the variable only", () => {
    const secretish = "  sk-live-123  ";
    try {
      renderEnv({ TOKEN: secretish });
      throw new Error("expected a throw");
    } catch (e) {
      expect(e).toBeInstanceOf(UserError);
      expect((e as Error).message).toContain("TOKEN");
      expect((e as Error).message).not.toContain("sk-live-123");
    }
    expect(() => renderEnv({ A: "x\n" })).toThrow(UserError);
    expect(() => renderEnv({ A: "a\0b" })).toThrow(/NUL/);
    expect(() => renderEnv({ "BAD-NAME": "x" })).toThrow(UserError);
  });

  test("rejects out-of-range resources and relative paths", () => {
    expect(() => renderSmolfile({ env: {}, cpus: 0 })).toThrow(UserError);
    expect(() => renderSmolfile({ env: {}, cpus: 256 })).toThrow(UserError); // u8
    expect(() => renderSmolfile({ env: {}, memory: 1.5 })).toThrow(UserError);
    expect(() => renderSmolfile({ env: {}, workdir: "rel" })).toThrow(UserError);
    expect(() => renderSmolfile({ env: {}, volumes: [{ host: "rel", guest: "/x" }] })).toThrow(UserError);
    expect(() => renderSmolfile({ env: {}, volumes: [{ host: "/a:b", guest: "/x" }] })).toThrow(UserError);
  });
});

describe("assertSealedSmolfile", () => {
  test("rejects net, [network] and unknown keys", () => {
    expect(() => assertSealedSmolfile("net = false\n")).toThrow(/network key/);
    expect(() => assertSealedSmolfile("[network]\nallow_hosts = []\n")).toThrow(/network key/);
    expect(() => assertSealedSmolfile('image = "alpine"\n')).toThrow(/unexpected key/);
    expect(() => assertSealedSmolfile('env = ["A=1"]\n')).not.toThrow();
  });
});
