import { defineCommand } from "citty";
import { commandMeta } from "./registry.ts";

export default defineCommand({
  meta: commandMeta("init"),
  args: {},
  async run() {
    const { mkdirSync, writeFileSync, chmodSync } = await import("node:fs");
    const { join } = await import("node:path");
    const { bottleHome, paths } = await import("../state/paths.ts");
    const { EXAMPLE_AGENT, EXAMPLE_BOTTLE } = await import("../defaults/examples.ts");
    const { UserError } = await import("../errors.ts");
    const home = bottleHome();
    const files = [
      { path: join(paths.bottlesDir(home), "example.md"), text: EXAMPLE_BOTTLE },
      { path: join(paths.agentsDir(home), "example.md"), text: EXAMPLE_AGENT },
    ];
    try {
      mkdirSync(home, { recursive: true, mode: 0o700 });
      chmodSync(home, 0o700);
      for (const d of [paths.bottlesDir(home), paths.agentsDir(home)]) mkdirSync(d, { recursive: true, mode: 0o700 });
    } catch (e: any) {
      throw new UserError(`cannot create ${home} (${e?.code ?? "error"}); check permissions or set CLAUDE_BOTTLE_HOME`);
    }
    for (const f of files) {
      try {
        // "wx": never overwrite, even if the file appears between a check and the write.
        writeFileSync(f.path, f.text, { flag: "wx", mode: 0o644 });
        process.stdout.write(`wrote ${f.path}\n`);
      } catch (e: any) {
        if (e?.code === "EEXIST") process.stdout.write(`skipped ${f.path} (already exists)\n`);
        else throw new UserError(`cannot write ${f.path} (${e?.code ?? "error"}); check permissions`);
      }
    }
    process.stdout.write("next: claude-bottle up example --dry-run\n");
  },
});
