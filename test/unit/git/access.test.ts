import { describe, expect, test } from "bun:test";
import { accessEnv, checkAccess, knownHostsText, sshCommand, transportOf, TOKEN_ENV } from "../../../src/git/access.ts";
import { gitError } from "../../../src/git/exec.ts";
import { insteadOfConfig } from "../../../src/git/gitconfig.ts";
import { parseGitleaksReport } from "../../../src/git/gitleaks.ts";
import { pushArgs } from "../../../src/git/push.ts";
import { cgiEnv, parseCgiHead } from "../../../src/git/cgi.ts";
import { isUserError } from "../../../src/errors.ts";

const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";

describe("transportOf", () => {
  test.each([
    ["ssh://git@host:2222/a/b.git", "ssh"],
    ["git@github.com:org/repo.git", "ssh"],
    ["https://github.com/org/repo.git", "https"],
    ["http://127.0.0.1:1/x.git", "http"],
    ["/srv/repo.git", "file"],
    ["file:///srv/repo.git", "file"],
  ])("%s -> %s", (url, t) => expect(transportOf(url)).toBe(t as never));
  test("unknown schemes and relative paths are user errors", () => {
    expect(() => transportOf("ftp://x/y")).toThrow(/not supported/);
    expect(() => transportOf("relative/path")).toThrow();
  });
});

describe("pinned host keys", () => {
  test("a bare key becomes a known_hosts line under the alias", () => {
    expect(knownHostsText(KEY + " comment", "o")).toBe(`claude-bottle-upstream ${KEY}\n`);
  });
  test("a known_hosts line has its host field replaced", () => {
    expect(knownHostsText(`[git.example]:22 ${KEY}`, "o")).toBe(`claude-bottle-upstream ${KEY}\n`);
  });
  test("garbage is refused", () => {
    expect(() => knownHostsText("not a key", "o")).toThrow(/host_key/);
    expect(() => knownHostsText("", "o")).toThrow(/empty/);
  });
  test("ssh without host_key fails closed", () => {
    try {
      checkAccess({ name: "o", url: "git@h:r.git" }, undefined);
      throw new Error("no error");
    } catch (e) {
      expect(isUserError(e)).toBe(true);
      expect((e as Error).message).toContain("no host_key");
    }
  });
  test("ssh command pins everything", () => {
    const c = sshCommand("/s/o.known_hosts", "/k/id ed");
    expect(c).toContain("'StrictHostKeyChecking=yes'");
    expect(c).toContain("'UserKnownHostsFile=/s/o.known_hosts'");
    expect(c).toContain("'GlobalKnownHostsFile=/dev/null'");
    expect(c).toContain("'IdentitiesOnly=yes'");
    expect(c).toContain("'-i' '/k/id ed'");
  });
});

describe("tokens", () => {
  test("the token is only in the child's environment, read by the helper", () => {
    const env = accessEnv({ name: "o", url: "https://h/r.git", tokenRef: "GH_TOKEN" }, "ghp_secretvalue123");
    expect(env[TOKEN_ENV]).toBe("ghp_secretvalue123");
    const others = Object.entries(env).filter(([k]) => k !== TOKEN_ENV);
    for (const [, v] of others) expect(v).not.toContain("ghp_secretvalue123");
    expect(env.GIT_CONFIG_VALUE_0).toBe("");
    expect(env.GIT_CONFIG_VALUE_1).toContain(`$${TOKEN_ENV}`);
  });
  test("a missing token names the variable", () => {
    expect(() => accessEnv({ name: "o", url: "https://h/r.git", tokenRef: "GH_TOKEN" }, undefined)).toThrow(/GH_TOKEN/);
  });
  test("errors from git are redacted", () => {
    expect(gitError("fatal: bad ghp_secretvalue123 here\n", ["ghp_secretvalue123"])).toBe("fatal: bad [redacted] here");
  });
});

describe("push arguments", () => {
  test("leases for forced updates, atomic for several, delete refspec", () => {
    expect(
      pushArgs("U", [
        { dst: "refs/heads/a", newOid: "1".repeat(40), force: false, expectOld: "" },
        { dst: "refs/heads/b", newOid: "0".repeat(40), force: true, expectOld: "f".repeat(40) },
      ]),
    ).toEqual([
      "push", "--porcelain", "--no-verify", "--no-follow-tags", "--no-recurse-submodules", "--atomic",
      `--force-with-lease=refs/heads/b:${"f".repeat(40)}`,
      "U", `${"1".repeat(40)}:refs/heads/a`, ":refs/heads/b",
    ]);
  });
});

describe("gitconfig insteadOf", () => {
  test("both spellings of the URL map to the mirror", () => {
    expect(insteadOfConfig([{ name: "origin", url: "git@github.com:o/r.git" }])).toBe(
      '[url "http://git.bottle.internal/origin.git"]\n\tinsteadOf = "git@github.com:o/r.git"\n\tinsteadOf = "git@github.com:o/r"\n',
    );
  });
});

describe("gitleaks report", () => {
  test("rule, file and commit, never the secret", () => {
    const f = parseGitleaksReport(JSON.stringify([{ RuleID: "aws-access-token", File: "a.txt", Commit: "abc", Secret: "REDACTED" }]));
    expect(f).toEqual([{ rule: "gitleaks:aws-access-token", file: "a.txt", commit: "abc" }]);
  });
});

describe("CGI", () => {
  test("environment from a request", () => {
    const req = new Request("http://git.bottle.internal/o.git/git-receive-pack?x=1", {
      method: "POST",
      headers: { "content-type": "application/x-git-receive-pack-request", "content-encoding": "gzip", "git-protocol": "version=2", "content-length": "12" },
      body: "hello world!",
    });
    const env = cgiEnv(req, { projectRoot: "/s/git", pathInfo: "/o.git/git-receive-pack", remoteUser: "b" }, { PATH: "/bin" });
    expect(env).toMatchObject({
      PATH: "/bin",
      REQUEST_METHOD: "POST",
      PATH_INFO: "/o.git/git-receive-pack",
      QUERY_STRING: "x=1",
      CONTENT_TYPE: "application/x-git-receive-pack-request",
      CONTENT_LENGTH: "12",
      HTTP_CONTENT_ENCODING: "gzip",
      HTTP_GIT_PROTOCOL: "version=2",
      GIT_PROJECT_ROOT: "/s/git",
      GIT_HTTP_EXPORT_ALL: "1",
      REMOTE_USER: "b",
    });
  });
  test("response head", () => {
    const enc = new TextEncoder();
    expect(parseCgiHead(enc.encode("Status: 404 Not Found\r\nContent-Type: text/plain\r\n"))).toBeNull();
    const h = parseCgiHead(enc.encode("Status: 404 Not Found\r\nContent-Type: text/plain\r\n\r\nbody"))!;
    expect(h.status).toBe(404);
    expect(h.headers).toEqual([["Content-Type", "text/plain"]]);
    expect(h.bodyStart).toBe(enc.encode("Status: 404 Not Found\r\nContent-Type: text/plain\r\n\r\n").length);
    expect(parseCgiHead(enc.encode("Content-Type: x\n\nB"))!.bodyStart).toBe(17);
  });
});
