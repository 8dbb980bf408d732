import { defineCommand } from "citty";

// Hidden: git hooks installed by the gate in a bottle's git mirrors. Run by
// git (receive-pack), never by a user. Configuration comes from environment
// variables set by the git vhost (src/git/hook-config.ts).
export default defineCommand({
  meta: { name: "hook", description: "git hooks of the gate's mirrors (internal)", hidden: true },
  args: {
    name: { type: "positional", required: true, description: "hook name (pre-receive)" },
  },
  async run({ args }) {
    if (args.name !== "pre-receive") {
      process.stderr.write(`claude-bottle: unknown hook '${args.name}'\n`);
      process.exitCode = 2;
      return;
    }
    const { preReceive } = await import("../git/pre-receive.ts");
    const { compileDlp } = await import("../gate/dlp/index.ts");
    const stdin = await new Response(Bun.stdin.stream()).text();
    let code: number;
    try {
      code = await preReceive({
        stdin,
        env: process.env,
        gitDir: process.cwd(),
        say: (line) => process.stderr.write(line + "\n"),
        scanners: (dlp) => {
          const compiled = compileDlp({ secrets: dlp.secrets, placeholders: dlp.placeholders });
          return () => compiled.bodyScanner();
        },
      });
    } catch (e) {
      // Fail closed: any error refuses the push, with a message but no stack.
      process.stderr.write(`claude-bottle: push rejected: the gate's hook failed: ${e instanceof Error ? e.message : String(e)}\n`);
      code = 1;
    }
    process.exitCode = code;
  },
});
