import { expect, test } from "bun:test";
import { createDockerBackend } from "../../../../src/backends/docker/index.ts";
import type { PlanJson } from "../../../../src/plan/types.ts";
import type { Spec } from "../../../../src/manifest/spec.ts";

const spec: Spec = {
  agent: "dev",
  bottle: "default",
  sources: { agent: "<embedded>", bottle: "<embedded>" },
  prompt: "",
  env: [
    { name: "LIT", kind: "literal", value: "v" },
    { name: "TOKEN", kind: "prompt", prompt: "token?" },
  ],
  egress: [],
  git: [],
  skills: [],
  resources: { memory: 2048 },
  supervise: false,
  workspace: { mode: "mount", path: "/src/repo" },
};
const plan = {
  version: 1,
  slug: "dev-abcde",
  state_dir: "/h/state/dev-abcde",
  env: [
    { name: "LIT", mode: "literal" },
    { name: "TOKEN", mode: "prompt" },
  ],
} as unknown as PlanJson;

test("describe shows the sealed run argv with env names only, and the image inputs", () => {
  const d = createDockerBackend({ hostEnv: { CLAUDE_BOTTLE_BASE_IMAGE: "local/base:1" } }).describe(spec, plan);
  const argv = d.run_argv as string[];
  expect(d.container).toBe("claude-bottle-dev-abcde");
  expect(d.base_image).toBe("local/base:1");
  expect(d.agent_package).toMatch(/^@anthropic-ai\/claude-code@\d+\.\d+\.\d+$/);
  expect(argv).toContain("none");
  expect(argv).toContain("TOKEN");
  expect(argv).toContain("LIT=<value>");
  expect(argv).toContain("type=bind,source=/h/state/dev-abcde/sock,target=/run/claude-bottle,readonly");
  expect(argv).toContain("type=bind,source=/src/repo,target=/workspace");
  // The home comes in as the bottle starts (unix door).
  expect(argv).toContain("type=bind,source=/h/state/dev-abcde/home.tar,target=/run/claude-bottle-home.tar,readonly");
  expect(argv.at(argv.indexOf("<agent image>") - 1)).not.toBe("--network");
  const none = createDockerBackend({ hostEnv: { CLAUDE_BOTTLE_AGENT_PACKAGE: "none" } }).describe(spec, plan);
  expect(none.agent_package).toBe("none (tests only)");
  expect(none.base_image).toBe("node:22-bookworm-slim");
});
