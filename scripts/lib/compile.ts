// One way to turn src/cli.ts into a standalone executable, shared by the host
// build and the release. Keeping the flags in one place means a release binary
// and a dev build differ only in --target and the values baked in.

export interface CompileOptions {
  // Repository root (where src/cli.ts lives).
  root: string;
  outfile: string;
  // A bun --target such as "bun-linux-x64"; it is also what `--version` shows.
  target: string;
  commit: string;
  // What to compile, relative to root; default src/cli.ts. bench/startup.ts
  // compiles a hello-world with the very same flags as its floor.
  entry?: string;
  // The top-level usage to bake in (BUILD_HELP in src/cli.ts); compile()
  // renders it for the default entry (renderHelp).
  help?: string;
}

// Pure: the argv for `bun build`. Flags:
// - --minify --bytecode: about half the start-up time (measured 19 ms -> 10 ms
//   for `--help`); bytecode is per bun version, not per machine, so it works
//   for cross targets too (checked: linux-arm64 from linux-x64).
// - --define: version.ts reads BUILD_COMMIT/BUILD_TARGET; JSON strings so they
//   land in the bundle as string literals.
// Never post-process the output with `strip`: that drops the embedded program
// and leaves a plain bun runtime.
export function compileArgs(o: CompileOptions, bun: string = process.execPath): string[] {
  return [
    bun,
    "build",
    "--compile",
    "--minify",
    "--bytecode",
    // Bytecode defaults to CommonJS, which rejects cli.ts's top-level await.
    "--format=esm",
    // Each lazily imported command (and the gate, docker, TLS code behind
    // it) in its own chunk: a process loads only what its command imports.
    // Without it every process deserialised the whole program first
    // (measured on 1.4.4: `--version` 14 -> 9 ms of CPU, per process; `up`
    // starts four of them).
    "--splitting",
    // A compiled executable loads .env and bunfig.toml from the working
    // directory by default (tried on 1.4.4): a repository's .env would set
    // our variables, and its bunfig.toml `preload` would run its code in the
    // process that holds the secrets.
    "--no-compile-autoload-dotenv",
    "--no-compile-autoload-bunfig",
    `--target=${o.target}`,
    "--define",
    `BUILD_COMMIT=${JSON.stringify(o.commit)}`,
    "--define",
    `BUILD_TARGET=${JSON.stringify(o.target)}`,
    // `--help` prints this text instead of loading citty to render it
    // (measured on 1.4.4: citty's import and render cost --help a third of
    // its CPU); test/cli/version-help.test.ts checks it against citty.
    ...(o.help === undefined ? [] : ["--define", `BUILD_HELP=${JSON.stringify(o.help)}`]),
    "--outfile",
    o.outfile,
    o.entry ?? "src/cli.ts",
  ];
}

export async function compile(o: CompileOptions): Promise<void> {
  if (o.entry === undefined && o.help === undefined) o = { ...o, help: await renderHelp(o.root) };
  const p = Bun.spawn(compileArgs(o), { cwd: o.root, stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  if (code !== 0) {
    const text = (err + out).trim();
    const offline = /Failed to download|DNSResolveFailed|ConnectionRefused|network/i.test(text);
    throw new CompileError(
      `bun build --compile --target=${o.target} failed (exit ${code})` +
        (offline ? " (the target runtime is fetched from the npm registry on first use; is it reachable?)" : "") +
        `:\n${text}`,
      offline,
    );
  }
}

// The top-level usage as citty renders it from the source being compiled,
// in a child whose environment asks for colour (citty reads NO_COLOR, TERM,
// TEST and CI once, at import); the binary strips the colour by the same
// rule at run time.
export async function renderHelp(root: string, bun: string = process.execPath): Promise<string> {
  const p = Bun.spawn([bun, "scripts/lib/help.ts"], { cwd: root, env: { PATH: process.env.PATH ?? "/usr/bin:/bin" }, stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  if (code !== 0 || out === "") throw new CompileError(`rendering the usage for --help failed (exit ${code}):\n${err.trim()}`, false);
  return out;
}

export class CompileError extends Error {
  constructor(
    message: string,
    // True when the failure was fetching the target runtime, not our code:
    // tests use it to skip a cross target on an offline machine.
    readonly runtimeUnavailable: boolean,
  ) {
    super(message);
    this.name = "CompileError";
  }
}

// The commit baked into binaries: 12 hex chars, plus "-dirty" when what goes
// into the binary (src/, package.json) differs from HEAD, so a local release
// can't pass for a tagged one. Same rule as scripts/build.ts.
export function gitCommit(root: string): string {
  const rev = Bun.spawnSync(["git", "rev-parse", "--short=12", "HEAD"], { cwd: root, stderr: "ignore" });
  const sha = rev.exitCode === 0 ? rev.stdout.toString().trim() : "";
  if (sha === "") return "unknown";
  const d = Bun.spawnSync(["git", "diff", "--quiet", "HEAD", "--", "src", "package.json"], { cwd: root, stderr: "ignore" });
  return d.exitCode === 1 ? `${sha}-dirty` : sha;
}
