import { describe, expect, test } from "bun:test";
import { parseLabels, toStatus } from "../../../../src/backends/docker/index.ts";
import { dockerMessage, isNoSuchContainer } from "../../../../src/backends/docker/cli.ts";

describe("docker output parsing", () => {
  test("labels, states, messages", () => {
    expect(parseLabels("claude-bottle=1,claude-bottle.slug=demo-abcde,x=a=b")).toEqual({ "claude-bottle": "1", "claude-bottle.slug": "demo-abcde", x: "a=b" });
    expect(toStatus("running")).toBe("running");
    expect(toStatus("exited")).toBe("stopped");
    expect(toStatus("created")).toBe("created");
    expect(toStatus("weird")).toBe("unknown");
    expect(dockerMessage("WARNING: x\nError response from daemon: No such container: c\n", 1)).toBe("No such container: c");
    expect(dockerMessage("", 3)).toBe("exit 3");
    expect(isNoSuchContainer("Error: No such container: c")).toBe(true);
    expect(isNoSuchContainer("Error: No such object: c")).toBe(true);
  });
});
