import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { insteadOfConfig } from "../../../src/git/gitconfig.ts";
import { zipOf } from "../../helpers/zip.ts";
import { awsKey, clientEnv, makeUpstream, ok, rand, refs, serveVhost, sh, tempDir } from "./harness.ts";

// Everything a push carries is scanned, not only added lines and commit
// messages: author and committer names and emails, file paths (renames
// included), annotated tags (message and tagger), extra commit headers
// (gpgsig, mergetag, a header git never heard of), notes, and binary files
// as far as DLP can read them (gzip, zip). Each case is a real `git push`
// through the git gate (the real hook, from source) to a real bare
// upstream, which is then read: nothing arrived.

const AWS = awsKey;
const GH = () => "ghp_" + rand("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", 36);

describe("git vhost: a push is scanned whole", () => {
  const t = tempDir("cb-git-meta-");
  const env = clientEnv(t.dir);
  let srv: { base: string; stop: () => void };
  let upstream: string;

  beforeAll(async () => {
    upstream = await makeUpstream(t.dir, env, "meta-upstream.git");
    srv = serveVhost({
      stateDir: join(t.dir, "state"),
      slug: "dev-meta1",
      upstreams: [{ name: "origin", url: upstream, allow_force: false, allow_delete: false }],
      secretsEnv: {},
    });
    writeFileSync(join(t.dir, ".gitconfig"), insteadOfConfig([{ name: "origin", url: upstream }], srv.base), { flag: "a" });
  });
  afterAll(() => {
    srv?.stop();
    t.cleanup();
  });

  async function work(): Promise<string> {
    const dir = join(t.dir, `work-${Math.random().toString(36).slice(2, 9)}`);
    await ok(sh(["git", "clone", "-q", upstream, dir], { env }), "clone");
    return dir;
  }
  const git = (dir: string, args: string[], extra: Record<string, string> = {}, stdin?: string) =>
    ok(sh(["git", ...args], { cwd: dir, env: { ...env, ...extra }, stdin }), `git ${args[0]}`);
  const head = async (dir: string) => (await git(dir, ["rev-parse", "HEAD"])).stdout.trim();

  // Pushes, expects a refusal by the secret scan naming `where`, and reads
  // the upstream: same refs, and none of `oids` arrived.
  async function refused(dir: string, refspecs: string[], key: string, where: string | RegExp, oids: string[]) {
    const before = await refs(upstream, env);
    const r = await sh(["git", "push", "origin", ...refspecs], { cwd: dir, env });
    const out = r.stdout + r.stderr;
    expect(r.code).not.toBe(0);
    expect(out).toContain("push rejected by the secret scan");
    if (typeof where === "string") expect(out).toContain(where);
    else expect(out).toMatch(where);
    expect(out).not.toContain(key);
    expect(await refs(upstream, env)).toEqual(before);
    for (const oid of oids) expect((await sh(["git", "cat-file", "-e", oid], { cwd: upstream, env })).code).not.toBe(0);
  }

  test("a secret in the author name, the author email, the committer name or the committer email", async () => {
    for (const [v, field] of [
      ["GIT_AUTHOR_NAME", "author"],
      ["GIT_AUTHOR_EMAIL", "author"],
      ["GIT_COMMITTER_NAME", "committer"],
      ["GIT_COMMITTER_EMAIL", "committer"],
    ] as const) {
      const dir = await work();
      // An AWS key in a name; a GitHub token (lower case allowed) in an email.
      const key = v.endsWith("EMAIL") ? GH() : AWS();
      writeFileSync(join(dir, "x.txt"), "clean\n");
      await git(dir, ["add", "-A"]);
      await git(dir, ["commit", "-qm", "clean message"], { [v]: v.endsWith("EMAIL") ? `${key}@example.invalid` : `Agent ${key}` });
      await refused(dir, ["main"], key, `the ${field} of commit`, [await head(dir)]);
    }
  });

  test("a secret in a file name: a new empty file, a new file, a rename", async () => {
    for (const kind of ["empty", "file", "rename"] as const) {
      const dir = await work();
      const key = AWS();
      if (kind === "rename") await git(dir, ["mv", "README.md", `${key}.md`]);
      else {
        mkdirSync(join(dir, "docs"), { recursive: true });
        writeFileSync(join(dir, "docs", `${key}.txt`), kind === "empty" ? "" : "clean content\n");
        await git(dir, ["add", "-A"]);
      }
      await git(dir, ["commit", "-qm", `${kind}`]);
      await refused(dir, ["main"], key, /the file names of tree [0-9a-f]{12}/, [await head(dir)]);
    }
  });

  test("an annotated tag: a secret in its message, or in its tagger, on a commit the upstream already has", async () => {
    for (const where of ["message", "tagger"] as const) {
      const dir = await work();
      const key = GH();
      const extra: Record<string, string> = where === "tagger" ? { GIT_COMMITTER_NAME: `Tagger ${key}` } : {};
      await git(dir, ["tag", "-a", `v-${where}`, "-m", where === "message" ? `release ${key}` : "release"], extra);
      const tagOid = (await git(dir, ["rev-parse", `v-${where}`])).stdout.trim();
      await refused(dir, [`refs/tags/v-${where}`], key, `the ${where === "message" ? "message" : "tagger"} of tag ${tagOid.slice(0, 12)}`, [tagOid]);
    }
  });

  test("extra commit headers: gpgsig, mergetag, and one git never heard of", async () => {
    for (const header of ["gpgsig", "mergetag", "x-custom"] as const) {
      const dir = await work();
      const key = AWS();
      const parent = await head(dir);
      const tree = (await git(dir, ["rev-parse", "HEAD^{tree}"])).stdout.trim();
      const value =
        header === "gpgsig"
          ? `-----BEGIN PGP SIGNATURE-----\n \n ${key}\n -----END PGP SIGNATURE-----`
          : header === "mergetag"
            ? `object ${parent}\n type commit\n tag t\n tagger T <t@example.invalid> 1700000000 +0000\n \n ${key}`
            : `note ${key}`;
      const raw = `tree ${tree}\nparent ${parent}\nauthor A <a@example.invalid> 1700000000 +0000\ncommitter A <a@example.invalid> 1700000000 +0000\n${header} ${value}\n\nclean message\n`;
      const oid = (await git(dir, ["hash-object", "-t", "commit", "-w", "--stdin"], {}, raw)).stdout.trim();
      await git(dir, ["update-ref", "refs/heads/main", oid]);
      await refused(dir, ["main"], key, "the headers of commit", [oid]);
    }
  });

  // git re-encodes a commit for every reader (git log, a forge) from the
  // encoding its header names: in UTF-7 "AKIA" can be spelt "+AEEASwBJAEE-",
  // which no rule reads in the raw object but every reader sees decoded.
  test("a commit in another encoding (UTF-7) that git decodes into a key for its readers", async () => {
    for (const where of ["author", "message"] as const) {
      const dir = await work();
      const key = AWS();
      const hidden = `+AEEASwBJAEE-${key.slice(4)}`;
      const parent = await head(dir);
      const tree = (await git(dir, ["rev-parse", "HEAD^{tree}"])).stdout.trim();
      const author = where === "author" ? `Agent ${hidden}` : "Agent";
      const raw = `tree ${tree}\nparent ${parent}\nauthor ${author} <a@example.invalid> 1700000000 -0000\ncommitter A <a@example.invalid> 1700000000 -0000\nencoding UTF-7\n\n${where === "message" ? `note ${hidden}` : "clean"}\n`;
      expect(raw).not.toContain(key);
      const oid = (await git(dir, ["hash-object", "-t", "commit", "-w", "--stdin"], {}, raw)).stdout.trim();
      // What any reader of the upstream would see.
      expect((await git(dir, ["log", "-1", "--format=%an %B", oid])).stdout).toContain(key);
      await git(dir, ["update-ref", "refs/heads/main", oid]);
      await refused(dir, ["main"], key, /push rejected by the secret scan/, [oid]);
    }
  });

  test("notes: a notes ref is refused, and a notes commit pushed as a branch is scanned", async () => {
    const dir = await work();
    const key = GH();
    await git(dir, ["notes", "add", "-m", `remember ${key}`, "HEAD"]);
    const notes = (await git(dir, ["rev-parse", "refs/notes/commits"])).stdout.trim();
    const before = await refs(upstream, env);
    const r = await sh(["git", "push", "origin", "refs/notes/commits"], { cwd: dir, env });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("only branches and tags can be pushed");
    expect(await refs(upstream, env)).toEqual(before);
    await refused(dir, ["refs/notes/commits:refs/heads/notes"], key, "rule github-token", [notes]);
  });

  test("binary files: a key inside a gzip or a zip, and raw in a binary", async () => {
    for (const kind of ["gzip", "zip", "binary"] as const) {
      const dir = await work();
      const key = AWS();
      const text = Buffer.from(`config\naws_access_key_id = ${key}\n`);
      let bytes: Buffer;
      if (kind === "gzip") bytes = gzipSync(text);
      else if (kind === "zip") bytes = zipOf("creds.txt", text);
      else bytes = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 0, 0]), text, Buffer.alloc(64, 0)]);
      writeFileSync(join(dir, `blob.${kind}`), bytes);
      await git(dir, ["add", "-A"]);
      await git(dir, ["commit", "-qm", kind]);
      await refused(dir, ["main"], key, `blob.${kind}`, [await head(dir)]);
    }
  });

  test("a tag on a blob or a tree (no commit's diff shows its files), and a blob pushed as a branch", async () => {
    for (const kind of ["annotated tag on a blob", "tag on a blob", "tag on a tree", "branch on a blob"] as const) {
      const dir = await work();
      const key = AWS();
      const blob = (await git(dir, ["hash-object", "-w", "--stdin"], {}, `aws_access_key_id = ${key}\n`)).stdout.trim();
      let refspec: string;
      let oids = [blob];
      if (kind === "annotated tag on a blob") {
        await git(dir, ["tag", "-a", "blob-a", "-m", "a clean message", blob]);
        refspec = "refs/tags/blob-a";
        oids = [(await git(dir, ["rev-parse", "blob-a"])).stdout.trim(), blob];
      } else if (kind === "tag on a blob") {
        await git(dir, ["update-ref", "refs/tags/blob-l", blob]);
        refspec = "refs/tags/blob-l";
      } else if (kind === "tag on a tree") {
        const tree = (await git(dir, ["mktree"], {}, `100644 blob ${blob}\tclean.txt\n`)).stdout.trim();
        await git(dir, ["update-ref", "refs/tags/tree-l", tree]);
        refspec = "refs/tags/tree-l";
        oids = [tree, blob];
      } else refspec = `${blob}:refs/heads/blob-branch`;
      await refused(dir, [refspec], key, /rule aws-access-key matched in file .*\(blob [0-9a-f]{12}\)/, oids);
    }
  });

  test("a secret in a branch or tag name", async () => {
    for (const kind of ["branch", "tag"] as const) {
      const dir = await work();
      const key = AWS();
      writeFileSync(join(dir, "x.txt"), "clean\n");
      await git(dir, ["add", "-A"]);
      await git(dir, ["commit", "-qm", "clean"]);
      const ref = kind === "branch" ? `refs/heads/feature/${key}` : `refs/tags/v-${key}`;
      const before = await refs(upstream, env);
      const r = await sh(["git", "push", "origin", `HEAD:${ref}`], { cwd: dir, env });
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(/remote: claude-bottle: push rejected by the secret scan: rule aws-access-key matched in the ref name/);
      // git itself names the ref it tried; the gate's words never do.
      expect(r.stderr.split("\n").filter((l) => l.startsWith("remote:")).join("\n")).not.toContain(key);
      expect(await refs(upstream, env)).toEqual(before);
    }
  });

  test("a tag on a clean blob still lands", async () => {
    const dir = await work();
    const blob = (await git(dir, ["hash-object", "-w", "--stdin"], {}, "just a public key file\n")).stdout.trim();
    await git(dir, ["tag", "-a", "key-blob", "-m", "the release key", blob]);
    const r = await ok(sh(["git", "push", "origin", "refs/tags/key-blob"], { cwd: dir, env }), "clean tag push");
    expect(r.stderr).toContain("forwarded to 'origin'");
    expect((await sh(["git", "cat-file", "-e", blob], { cwd: upstream, env })).code).toBe(0);
  });

  test("a clean push with tags, a rename and a binary still lands", async () => {
    const dir = await work();
    await git(dir, ["mv", "README.md", "README.txt"]);
    writeFileSync(join(dir, "logo.bin"), Buffer.from([0, 1, 2, 3, 255, 254, 0, 10, 13]));
    writeFileSync(join(dir, "data.gz"), gzipSync(Buffer.from("just data\n")));
    await git(dir, ["add", "-A"]);
    await git(dir, ["commit", "-qm", "clean"]);
    await git(dir, ["tag", "-a", "v-clean", "-m", "a clean release"]);
    const r = await ok(sh(["git", "push", "origin", "main", "refs/tags/v-clean"], { cwd: dir, env }), "clean push");
    expect(r.stderr).toContain("forwarded to 'origin'");
    expect((await refs(upstream, env))["refs/heads/main"]).toBe(await head(dir));
  });
});
