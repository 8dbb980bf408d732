import { defineCommand } from "citty";
import { commandMeta } from "./registry.ts";
import { slugArgs } from "./_shared.ts";

export default defineCommand({
  meta: commandMeta("allow"),
  args: {
    ...slugArgs,
    host: { type: "positional", required: true, description: "Host name or *.domain" },
    methods: { type: "string", description: "Comma-separated methods, e.g. GET,POST (default: all)" },
    paths: { type: "string", description: "Comma-separated path prefixes, e.g. /v1/,/api/ (default: all)" },
    ports: { type: "string", description: "Comma-separated ports (default: 443 for https, 80 for http)" },
  },
  async run({ args }) {
    const [{ allowHost }, { applyEdit, stateDirFor }] = await Promise.all([import("../policy/edit.ts"), import("../policy/store.ts")]);
    const list = (v: unknown) => (typeof v === "string" && v.length ? v.split(",").map((s) => s.trim()).filter(Boolean) : undefined);
    const stateDir = stateDirFor(String(args.slug));
    const { result, signal } = applyEdit(
      stateDir,
      (p) =>
        allowHost(p, String(args.host), {
          methods: list(args.methods),
          paths: list(args.paths),
          ports: list(args.ports)?.map(Number),
        }),
      (r) => r.changed,
    );
    const route = result.policy.routes.at(-1)!;
    if (!signal) process.stdout.write(`${args.host} was already allowed\n`);
    else
      process.stdout.write(
        `allowed ${route.host}${route.methods ? ` (${route.methods.join(",")})` : ""}${route.paths ? ` ${route.paths.join(",")}` : ""}` +
          (signal.running ? `; gate ${signal.pid} reloaded\n` : "; takes effect when the bottle's gate starts\n"),
      );
  },
});
