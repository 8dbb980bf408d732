import { expect, test } from "bun:test";
import { buildVhosts, vhostRegistrations, type VhostContext } from "../../../../src/gate/vhosts/index.ts";
import { registerBuiltinVhosts } from "../../../../src/vhosts.ts";

const ctx = (supervise: boolean): VhostContext => ({
  stateDir: "/nonexistent",
  policy: { version: 1, slug: "t-abcde", routes: [], git: [], git_workspace: null, supervise, placeholders: {} },
  secrets: { credentials: {}, secrets: [] },
  log: () => {},
});

test("the built-in vhosts are registered with their audit layers", async () => {
  expect(await registerBuiltinVhosts()).toEqual(["git.bottle.internal", "supervise.bottle.internal"]);
  const regs = vhostRegistrations();
  expect(regs.get("git.bottle.internal")?.layer).toBe("git");
  expect(regs.get("supervise.bottle.internal")?.layer).toBe("supervise");
  // Built for a bottle: supervise on, no git upstreams -> only supervise.
  const built = await buildVhosts(regs, ctx(true));
  expect([...built.keys()]).toEqual(["supervise.bottle.internal"]);
  expect(built.get("supervise.bottle.internal")!.layer).toBe("supervise");
  expect((await buildVhosts(regs, ctx(false))).size).toBe(0);
});

test("given factories: a bare one is audited as gate, a registration keeps its layer", () => {
  const f = () => null;
  const regs = vhostRegistrations({ "A.bottle.internal": f, "b.bottle.internal": { factory: f, layer: "git" } });
  expect(regs.get("a.bottle.internal")).toEqual({ factory: f, layer: "gate" });
  expect(regs.get("b.bottle.internal")).toEqual({ factory: f, layer: "git" });
});
