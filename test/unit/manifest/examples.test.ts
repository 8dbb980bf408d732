import { expect, test } from "bun:test";
import { EXAMPLE_AGENT, EXAMPLE_BOTTLE } from "../../../src/defaults/examples.ts";
import { buildCatalog } from "../../../src/manifest/catalog.ts";
import { resolveSpec } from "../../../src/manifest/resolve.ts";

// `init` writes these files; they must load exactly as written.
test("the init examples are valid manifests and resolve to a spec", () => {
  const c = buildCatalog(
    {
      homeBottles: [{ name: "example", path: "/h/bottles/example.md", bytes: EXAMPLE_BOTTLE }],
      homeAgents: [{ name: "example", path: "/h/agents/example.md", bytes: EXAMPLE_AGENT }],
      repoAgents: [],
    },
    {},
  );
  const spec = resolveSpec(c, "example", {}, { cwd: "/w", gitRoot: null, mountFlag: false });
  expect(spec.bottle).toBe("example");
  expect(spec.env).toEqual([{ name: "GIT_AUTHOR_NAME", kind: "literal", value: "Example Agent" }]);
  expect(spec.egress[0]).toMatchObject({ host: "api.github.com", methods: ["GET"] });
  expect(spec.egress.some((r) => r.host === "api.anthropic.com")).toBe(true);
  expect(spec.prompt).toStartWith("You are a careful coding agent");
});
