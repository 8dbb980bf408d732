import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { deleteArgv } from "../../src/backends/smolmachines/cli.ts";
import { GUEST_GATE_SOCKET, GUEST_WORKSPACE, LABEL_OWNER, RELAY_PORT } from "../../src/backends/smolmachines/constants.ts";
import { assertSealedSmolfile, renderSmolfile } from "../../src/backends/smolmachines/smolfile.ts";
import { canariesEnabled, canaryName, OPT_IN } from "./enabled.ts";

// Upstream regression: smolvm rejects unknown Smolfile keys
// (deny_unknown_fields), so a smolvm release that renames or drops a key we
// write breaks every bottle. Create a machine from a Smolfile rendered by our
// own renderer, then delete it. Creating registers the machine; nothing boots.

const smolvm = Bun.which("smolvm");
const skip = !canariesEnabled ? OPT_IN : smolvm ? undefined : "smolvm is not installed on this machine";

describe.skipIf(skip !== undefined)(canaryName("smolvm accepts the Smolfile we render", skip), () => {
  const work = mkdtempSync(join(tmpdir(), "cb-canary-smol-"));
  const name = `claude-bottle-canary-${Math.random().toString(36).slice(2, 7)}`;
  afterAll(() => {
    Bun.spawnSync([smolvm!, ...deleteArgv(name)], { stdout: "ignore", stderr: "ignore" });
    rmSync(work, { recursive: true, force: true });
  });

  test("machine create takes every key the renderer writes", () => {
    const smolfile = renderSmolfile({
      env: { HTTPS_PROXY: `http://127.0.0.1:${RELAY_PORT}`, NO_PROXY: "localhost,127.0.0.1" },
      workdir: GUEST_WORKSPACE,
      cpus: 2,
      memory: 1024,
      volumes: [{ host: work, guest: GUEST_WORKSPACE, readOnly: true }],
      entrypoint: ["/bin/sh", "-c"],
      cmd: [`echo relay would listen on ${RELAY_PORT} for ${GUEST_GATE_SOCKET}; sleep 3600`],
    });
    assertSealedSmolfile(smolfile);
    const file = join(work, "Smolfile");
    writeFileSync(file, smolfile);
    // No --image: the canary tests the Smolfile schema, not image import.
    const r = Bun.spawnSync([smolvm!, "machine", "create", "--name", name, "--smolfile", file, "--label", `${LABEL_OWNER}=1`], {
      stdout: "pipe",
      stderr: "pipe",
    });
    const err = r.stderr.toString();
    expect(err).not.toMatch(/unknown field|invalid type/i);
    expect({ exit: r.exitCode, err }).toEqual({ exit: 0, err: expect.any(String) });
    const del = Bun.spawnSync([smolvm!, ...deleteArgv(name)], { stdout: "pipe", stderr: "pipe" });
    expect(del.exitCode).toBe(0);
  }, 120_000);
});
