import { defineCommand } from "citty";
import { commandMeta } from "./registry.ts";
import { backendArgs, detachArgs, doorArgs, dryRunArgs, yesArgs } from "./_shared.ts";

export default defineCommand({
  meta: commandMeta("up"),
  args: {
    agent: { type: "positional", required: false, default: "default", description: "Agent to run" },
    ...dryRunArgs,
    format: { type: "string", description: "Plan format for --dry-run: text or json", default: "text" },
    ...backendArgs,
    ...doorArgs,
    mount: { type: "boolean", description: "Mount the working directory into the bottle instead of copying it" },
    ...yesArgs,
    ...detachArgs,
    verbose: { type: "boolean", description: "Show the full image build log as it runs" },
  },
  async run({ args }) {
    // The backend is probed (docker: a daemon round trip) while the modules
    // below load, not after them: the engine is asked before anything else
    // loads. Unnamed (auto), docker is probed too: it is the choice unless
    // smolvm is usable, whose probe needs no daemon.
    const named = args.backend ? String(args.backend) : process.env.CLAUDE_BOTTLE_BACKEND;
    const { engineInfoEarly } = await import("../backends/docker/api.ts");
    const early = probeEarly(named ?? "docker", engineInfoEarly);
    early.catch(() => {});
    // A launch's own modules load meanwhile too.
    const launchModules = args["dry-run"] ? null : import("../launch/run.ts").then((m) => m.loadDeps());
    launchModules?.catch(() => {}); // runUp loads them again and reports
    const [{ UserError }, { preparePlan }, { renderPlanText }] = await Promise.all([import("../errors.ts"), import("../plan/prepare.ts"), import("../plan/text.ts")]);
    const dryRun = Boolean(args["dry-run"]);
    const format = String(args.format ?? "text");
    if (format !== "text" && format !== "json") throw new UserError(`--format must be text or json`, 2);
    if (format === "json" && !dryRun) throw new UserError(`--format json needs --dry-run`, 2);

    const probed = await early;
    const { probeBackend } = await import("../backends/select.ts");
    const { spec, plan, warnings } = preparePlan({
      agent: String(args.agent ?? "default"),
      dryRun,
      backendFlag: args.backend ? String(args.backend) : undefined,
      doorFlag: args.door ? String(args.door) : undefined,
      mount: Boolean(args.mount),
      cwd: process.cwd(),
      env: process.env,
      probe: probed ? (n) => (n === probed.name ? probed.probe : probeBackend(n, process.env)) : undefined,
    });
    for (const w of warnings) process.stderr.write(`claude-bottle: warning: ${w}\n`);
    // A launch shows the plan on stderr, next to the y/N question: stdout
    // then carries only what scripts need (`up -d` prints the slug).
    const sink = dryRun ? process.stdout : process.stderr;
    if (format === "json") sink.write(JSON.stringify(plan, null, 2) + "\n");
    else sink.write(renderPlanText(plan));
    if (dryRun) return;
    const { runUp } = await import("../launch/run.ts");
    process.exitCode = await runUp({ spec, plan, yes: Boolean(args.yes), detached: Boolean(args.detach), cwd: process.cwd(), verbose: Boolean(args.verbose) });
  },
});

async function probeEarly(named: string, engineInfoEarly: typeof import("../backends/docker/api.ts").engineInfoEarly) {
  // Sent now; the name is checked once select.ts has loaded (a request
  // for a name that turns out not to be docker is dropped).
  const asked = /^\s*docker\s*$/i.test(named) ? engineInfoEarly(process.env) : null;
  const s = await import("../backends/select.ts");
  try {
    const name = s.parseBackendName(named, "backend");
    return { name, probe: await s.probeBackendAsync(name, process.env, asked) };
  } catch {
    return null; // a bad name: preparePlan says so, in its words
  }
}
