import { defineCommand } from "citty";
import { commandMeta } from "./registry.ts";

// Hidden: git hooks installed by the gate in a bottle's git mirrors. Run by
// git (receive-pack), never by a user. Configuration comes from environment
// variables set by the git vhost (src/git/hook-config.ts).
export default defineCommand({
  meta: commandMeta("hook"),
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
    const { readHookConfig } = await import("../git/hook-config.ts");
    const { writeHookDeny } = await import("../git/hook-audit.ts");
    const stdin = await new Response(Bun.stdin.stream()).text();
    let denied = false;
    // Every refusal is a deny line in the bottle's audit (layer git).
    const deny = (reason: string) => {
      denied = true;
      try {
        writeHookDeny(readHookConfig(process.env).config, reason, process.env);
      } catch (e) {
        process.stderr.write(`claude-bottle: could not write the audit line: ${e instanceof Error ? e.message : String(e)}\n`);
      }
    };
    let code: number;
    try {
      code = await preReceive({
        stdin,
        env: process.env,
        gitDir: process.cwd(),
        say: (line) => process.stderr.write(line + "\n"),
        deny,
        scanners: (dlp) => {
          // A zip in a push is read whole to be scanned: up to 64 MiB (the
          // hook is its own process), and a larger one is refused.
          const compiled = compileDlp({ secrets: dlp.secrets, placeholders: dlp.placeholders, limits: { maxArchiveBytes: 64 * 1024 * 1024 } });
          return { plain: () => compiled.bodyScanner(), blob: () => compiled.encodedBodyScanner(null) };
        },
      });
    } catch (e) {
      // Fail closed: any error refuses the push, with a message but no stack.
      process.stderr.write(`claude-bottle: push rejected: the gate's hook failed: ${e instanceof Error ? e.message : String(e)}\n`);
      if (!denied) deny("push refused: the hook failed");
      code = 1;
    }
    process.exitCode = code;
  },
});
