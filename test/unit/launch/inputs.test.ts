import { expect, test } from "bun:test";
import { gateInputs } from "../../../src/launch/inputs.ts";
import { testSpec } from "./fixtures/spec.ts";

const ph = (r: string) => "PH" + "x".repeat(r.length - 2);

test("credentials go to the gate, placeholders to the bottle, secrets by name only", () => {
  const spec = testSpec({
    git: [{ name: "origin", url: "https://git.example.test/r.git", token_ref: "GIT_TOKEN", allow_force: false, allow_delete: false }],
  });
  const gi = gateInputs({
    slug: "t-aaaaa",
    spec,
    resolved: { values: { LIT: "l", ASKED: "asked-secret", COPIED: "copied-secret" } },
    hostEnv: { EXAMPLE_TOKEN: "real-example-token", GIT_TOKEN: "real-git-token" },
    makePlaceholder: ph,
  });
  expect(gi.secrets.credentials).toEqual({ EXAMPLE_TOKEN: "real-example-token", GIT_TOKEN: "real-git-token" });
  expect(gi.policy.placeholders).toEqual({ EXAMPLE_TOKEN: ph("real-example-token") });
  expect(gi.agentEnv.EXAMPLE_TOKEN).toBe(ph("real-example-token"));
  expect(gi.agentEnv.LIT).toBe("l");
  expect(gi.agentEnv.https_proxy).toBe("http://127.0.0.1:3128");
  expect(gi.agentEnv.NO_PROXY).toBe("localhost,127.0.0.1");
  expect(gi.secretEnv).toEqual({ ASKED: "asked-secret", COPIED: "copied-secret" });
  expect(Object.values(gi.agentEnv)).not.toContain("asked-secret");
  expect(JSON.stringify(gi.policy)).not.toContain("real-");
  expect(gi.secrets.secrets.map((s) => s.name).sort()).toEqual(["ASKED", "COPIED", "EXAMPLE_TOKEN", "GIT_TOKEN"]);
});

test("resume reuses the earlier placeholders", () => {
  const gi = gateInputs({
    slug: "t-aaaaa",
    spec: testSpec(),
    resolved: { values: { LIT: "l", ASKED: "a", COPIED: "c" } },
    hostEnv: { EXAMPLE_TOKEN: "real" },
    makePlaceholder: () => "fresh",
    previous: { placeholders: { EXAMPLE_TOKEN: "earlier" }, routes: testSpec().egress, git: [] },
  });
  expect(gi.agentEnv.EXAMPLE_TOKEN).toBe("earlier");
});

test("an unset token_ref gets no credential and no placeholder (the plan warned)", () => {
  const gi = gateInputs({ slug: "t", spec: testSpec(), resolved: { values: { LIT: "l", ASKED: "a", COPIED: "c" } }, hostEnv: {}, makePlaceholder: ph });
  expect(gi.secrets.credentials).toEqual({});
  expect(gi.policy.placeholders).toEqual({});
  expect("EXAMPLE_TOKEN" in gi.agentEnv).toBe(false);
});

test("an env entry without a resolved value is an error naming it", () => {
  expect(() => gateInputs({ slug: "t", spec: testSpec(), resolved: { values: { LIT: "l", ASKED: "a" } }, hostEnv: {}, makePlaceholder: ph })).toThrow("env COPIED has no value");
});
