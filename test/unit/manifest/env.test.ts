import { describe, expect, test } from "bun:test";
import { UserError } from "../../../src/errors.ts";
import { checkHostVars, parseEnvEntries, parseEnvEntry, resolveEnvValues } from "../../../src/manifest/env.ts";

describe("env entry modes", () => {
  test("'?' asks with a default prompt, '?text' with that text", () => {
    expect(parseEnvEntry("TOKEN", "?")).toEqual({ name: "TOKEN", kind: "prompt", prompt: "Value for TOKEN" });
    expect(parseEnvEntry("TOKEN", "?Paste your token")).toEqual({ name: "TOKEN", kind: "prompt", prompt: "Paste your token" });
  });
  test("${HOST_VAR} copies from the host", () => {
    expect(parseEnvEntry("GH", "${GH_PAT}")).toEqual({ name: "GH", kind: "host", hostVar: "GH_PAT" });
  });
  test("anything else is a literal, including near-misses of ${VAR}", () => {
    for (const v of ["plain", "$GH_PAT", "${GH_PAT", "${GH-PAT}", "x${A}", "${A}x", "", " ?"]) {
      expect(parseEnvEntry("X", v)).toEqual({ name: "X", kind: "literal", value: v });
    }
  });
  test("entries keep manifest order", () => {
    expect(parseEnvEntries({ B: "1", A: "?", C: "${C}" }).map((e) => [e.name, e.kind])).toEqual([
      ["B", "literal"],
      ["A", "prompt"],
      ["C", "host"],
    ]);
  });
});

describe("checkHostVars (dry run)", () => {
  const entries = parseEnvEntries({ A: "${HAVE}", B: "${MISSING_ONE}", C: "${MISSING_TWO}", D: "?" });
  test("names the entry and the variable, never a value", () => {
    try {
      checkHostVars(entries, { HAVE: "s3cret-have" }, "/h/bottles/dev.md");
      throw new Error("no error");
    } catch (e) {
      expect(e).toBeInstanceOf(UserError);
      expect((e as Error).message).toBe(
        "env B (/h/bottles/dev.md) copies ${MISSING_ONE} from the host, but MISSING_ONE is not set (also missing: MISSING_TWO); export it before running claude-bottle, or change the entry",
      );
      expect((e as Error).message).not.toContain("s3cret-have");
    }
  });
  test("passes when all are set (an empty value counts as set)", () => {
    expect(() => checkHostVars(entries, { HAVE: "x", MISSING_ONE: "", MISSING_TWO: "y" })).not.toThrow();
  });
});

describe("resolveEnvValues (launch)", () => {
  const entries = parseEnvEntries({ LIT: "hello", HOST: "${H}", ASK: "?Your token", ASK2: "?" });
  test("resolves every mode; prompts get the prompt text and the name", async () => {
    const asked: [string, string][] = [];
    const values = await resolveEnvValues(entries, { H: "from-host" }, async (p, n) => {
      asked.push([p, n]);
      return `answer-${n}`;
    });
    expect(values).toEqual({ LIT: "hello", HOST: "from-host", ASK: "answer-ASK", ASK2: "answer-ASK2" });
    expect(asked).toEqual([
      ["Your token", "ASK"],
      ["Value for ASK2", "ASK2"],
    ]);
  });
  test("a missing host variable fails before anything is asked", async () => {
    let asked = 0;
    const p = resolveEnvValues(entries, {}, async () => {
      asked++;
      return "x";
    });
    await expect(p).rejects.toThrow("env HOST copies ${H} from the host, but H is not set");
    expect(asked).toBe(0);
  });
  test("an empty answer is an error naming the entry", async () => {
    await expect(resolveEnvValues(entries, { H: "v" }, async () => "")).rejects.toThrow(
      "env ASK: no value was entered; run again and type the value at the prompt",
    );
  });
});
