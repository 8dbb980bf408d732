import { expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { accountHome, childEnv, trustedPath } from "../../../src/child-env.ts";

test("PATH: relative entries and entries inside the current folder or its repository are dropped", () => {
  const dir = mkdtempSync(join(tmpdir(), "cb-path-"));
  try {
    const repo = join(dir, "repo");
    mkdirSync(join(repo, ".git"), { recursive: true });
    mkdirSync(join(repo, "sub", "bin"), { recursive: true });
    mkdirSync(join(dir, "tools"));
    // A symlink from outside into the repository is judged by where it goes.
    symlinkSync(join(repo, "sub", "bin"), join(dir, "sneaky"));
    const path = ["/usr/bin", "bin", ".", "", join(repo, "sub", "bin"), join(repo, "bin"), join(dir, "sneaky"), join(dir, "tools"), join(homedir(), ".local", "bin")].join(":");
    expect(trustedPath(path, join(repo, "sub")).split(":")).toEqual(["/usr/bin", join(dir, "tools"), join(homedir(), ".local", "bin")]);
    // Outside any repository: only the folder itself is fenced.
    expect(trustedPath(`${join(dir, "tools")}:/usr/bin`, join(dir, "tools"))).toBe("/usr/bin");
    // Run from the account's home: its own bin folders stay.
    expect(trustedPath(`${join(homedir(), ".local", "bin")}:/usr/bin`, homedir())).toBe(`${join(homedir(), ".local", "bin")}:/usr/bin`);
    // HOME inside the repository is not the children's HOME, and does not
    // unfence the repository's PATH entries either.
    const e = childEnv({ HOME: join(repo, ".home"), PATH: `${join(repo, ".home", "bin")}:/usr/bin` }, [], repo);
    expect(e.HOME).toBe(accountHome()!);
    expect(e.PATH).toBe("/usr/bin");
    expect(childEnv({ HOME: join(dir, "tools") }, [], repo).HOME).toBe(join(dir, "tools"));
    // Nothing left: a fixed system PATH.
    expect(childEnv({ PATH: "bin:." }, [], repo).PATH).toBe("/usr/local/bin:/usr/bin:/bin");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
