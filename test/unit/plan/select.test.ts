import { describe, expect, test } from "bun:test";
import {
  chooseBackend,
  formatDoctor,
  noBackendMessage,
  probeSmolvm,
  type BackendProbe,
  type Probes,
} from "../../../src/backends/select.ts";
import type { BackendName } from "../../../src/backends/names.ts";

const ok: BackendProbe = { usable: true, problems: [] };
const bad = (what: string): BackendProbe => ({ usable: false, problems: [{ what, fix: `fix ${what}` }] });

function probes(docker: BackendProbe, smol: BackendProbe) {
  const asked: BackendName[] = [];
  const fn = (n: BackendName) => {
    asked.push(n);
    return n === "docker" ? docker : smol;
  };
  return { fn, asked };
}

describe("chooseBackend", () => {
  test("--backend beats the env var, and only that backend is probed", () => {
    const p = probes(ok, ok);
    expect(chooseBackend("docker", "smolmachines", p.fn)).toEqual({ backend: "docker", source: "flag", usable: true, problems: [] });
    expect(p.asked).toEqual(["docker"]);
  });
  test("CLAUDE_BOTTLE_BACKEND beats auto; smolvm is an alias", () => {
    expect(chooseBackend(undefined, "smolvm", probes(ok, ok).fn)).toMatchObject({ backend: "smolmachines", source: "env" });
  });
  test("auto prefers a usable smolvm, then docker", () => {
    expect(chooseBackend(undefined, undefined, probes(ok, ok).fn)).toMatchObject({ backend: "smolmachines", source: "auto", usable: true });
    expect(chooseBackend(undefined, "", probes(ok, bad("no kvm")).fn)).toMatchObject({ backend: "docker", source: "auto", usable: true });
  });
  test("nothing usable: docker, not usable, with every problem", () => {
    const c = chooseBackend(undefined, undefined, { docker: bad("no docker"), smolmachines: bad("no smolvm") } satisfies Probes);
    expect(c).toEqual({
      backend: "docker",
      source: "auto",
      usable: false,
      problems: [
        { what: "no docker", fix: "fix no docker" },
        { what: "no smolvm", fix: "fix no smolvm" },
      ],
    });
    expect(noBackendMessage(c)).toBe("no usable backend (no docker; fix no docker); run 'claude-bottle doctor' for details");
  });
  test("an explicit but unusable choice is reported as such", () => {
    const c = chooseBackend("smolmachines", undefined, probes(ok, bad("no kvm")).fn);
    expect(noBackendMessage(c)).toBe("backend smolmachines is not usable (no kvm; fix no kvm); run 'claude-bottle doctor' for details");
  });
  test("unknown names name their source", () => {
    expect(() => chooseBackend("podman", undefined, probes(ok, ok).fn)).toThrow("--backend: unknown backend 'podman'; use one of: docker, smolmachines");
    expect(() => chooseBackend(undefined, "lxc", probes(ok, ok).fn)).toThrow("CLAUDE_BOTTLE_BACKEND: unknown backend 'lxc'; use one of: docker, smolmachines");
  });
});

describe("probeSmolvm (real edge, empty PATH)", () => {
  test("missing smolvm and crun are reported with install pointers", () => {
    const p = probeSmolvm({ PATH: "/nonexistent" }, "linux");
    expect(p.usable).toBe(false);
    const what = p.problems.map((x) => x.what).join("\n");
    expect(what).toContain("smolvm is not on PATH");
    expect(what).toContain("crun");
    // Every problem says what to do, including the docker fallback.
    expect(p.problems.every((x) => x.fix.length > 0)).toBe(true);
    expect(p.problems[0]!.fix).toContain("--backend docker");
  });
  test("no /dev/kvm or crun check off Linux", () => {
    const p = probeSmolvm({ PATH: "/nonexistent" }, "darwin");
    expect(p.problems.map((x) => x.what)).toEqual(["smolvm is not on PATH"]);
  });
});

describe("formatDoctor", () => {
  test("one usable backend and git: ok", () => {
    const r = formatDoctor({ docker: ok, smolmachines: bad("smolvm is not installed") }, null);
    expect(r.ok).toBe(true);
    expect(r.text).toBe(
      "docker: ok\nsmolmachines: not usable\n  - smolvm is not installed: fix smolvm is not installed\ngit: ok\nready: docker (auto picks docker)\n",
    );
  });
  test("no git: nothing is usable", () => {
    const r = formatDoctor({ docker: ok, smolmachines: ok }, { what: "git is not installed", fix: "install git" });
    expect(r.ok).toBe(false);
    expect(r.text).toContain("git: missing\n  - git is not installed: install git\n");
    expect(r.text).toEndWith("not ready: no usable backend; fix one of the problems above\n");
  });
});
