import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Backend } from "../backends/types.ts";

// The explanation a new user sees the first time `claude-bottle up` does
// something slow or surprising (build an image, start a gate, make a CA), and
// never again. Each topic is shown once per home: someone who first ran with
// docker and later switches to smolvm still gets the smolvm lines once.
//
// `up` takes the start topics before the launch and prints them; the image
// topic is taken by the launcher when the backend actually builds or prepares
// the agent image (LaunchContext.imageBuild), so a run that reuses a cached
// image never says it is building one. The backend supplies its own lines
// (Backend.about). The progress display then needs no prose of its own.

export const FIRST_RUN_MARKER = ".first-run-done";

export interface FirstRunContext {
  backend: Pick<Backend, "name" | "about">;
  // The built-in `default` agent in the built-in `claude` bottle runs (the
  // home may hold manifests of its own: `init` writes examples).
  usingDefaults: boolean;
  // `up -d`: no agent prompt follows; the attach topic waits for a run
  // that has one.
  detached?: boolean;
}

export interface Topic {
  // Stable id stored in the marker; the backend-specific ones carry the backend.
  id: string;
  lines: string[];
}

// Pure: the topics shown before a launch, in the order the steps happen.
export function firstRunTopics(ctx: FirstRunContext): Topic[] {
  const topics: Topic[] = [
    {
      id: "intro",
      lines: [
        "First run: claude-bottle explains each step once; later runs only show progress.",
        "The agent runs in a bottle with no network of its own. Its one way out is the gate.",
      ],
    },
  ];
  if (ctx.usingDefaults) {
    topics.push({
      id: "defaults",
      lines: [
        "This runs the built-in `default` agent in the built-in `claude` bottle: Claude Code, reaching only the hosts it needs.",
        "Your own agents and bottles live in ~/.claude-bottle: `claude-bottle init` writes examples to edit (egress routes, credentials, git upstreams).",
      ],
    });
  }
  const { name, about } = ctx.backend;
  topics.push({ id: `backend:${name}`, lines: [`Backend ${about.label}: ${about.sealLine}`] });
  topics.push(
    {
      id: "gate",
      lines: [
        "Starting the gate: this same program, running on your machine. It lets through only the hosts the manifest allows,",
        "adds your credentials on the wire (the agent only ever sees placeholders), blocks secrets leaving, and logs every decision.",
        "See the decisions with `claude-bottle logs`.",
      ],
    },
    {
      id: "ca",
      lines: [
        "Each bottle gets its own certificate authority so the gate can inspect HTTPS. Only the bottle trusts it; your system does not.",
      ],
    },
  );
  if (!ctx.detached) {
    topics.push({
      id: "attach",
      lines: ["The agent prompt that follows runs inside the bottle. Leaving the agent stops the bottle and its gate."],
    });
  }
  return topics;
}

// Pure: the explanation of the image build, for the launcher to take when the
// backend starts one. Once per backend and home, like every topic.
export function imageTopic(backend: Pick<Backend, "name" | "about">): Topic {
  return { id: `image:${backend.name}`, lines: [backend.about.imageLine] };
}

// Pure: the marker's topic ids. A marker that exists but is not ours (an
// empty file someone touched, an older format) means "already explained":
// better to say too little than to nag.
export function parseMarker(text: string | undefined): Set<string> | "all" {
  if (text === undefined) return new Set();
  try {
    const v = JSON.parse(text) as { shown?: unknown };
    if (v && Array.isArray(v.shown) && v.shown.every((x) => typeof x === "string")) return new Set(v.shown as string[]);
  } catch {
    // fall through
  }
  return "all";
}

// Effect: the lines of the topics not shown yet, and the record that they
// now have been (<home>/.first-run-done). Returns [] when nothing is new. The
// marker is written before the caller prints: a crash mid-run must not make
// every later run repeat the explanation.
export function takeFirstRunLines(home: string, topics: Topic[]): string[] {
  const marker = join(home, FIRST_RUN_MARKER);
  let text: string | undefined;
  try {
    text = readFileSync(marker, "utf8");
  } catch {
    text = undefined;
  }
  const shown = parseMarker(text);
  if (shown === "all") return [];
  const fresh = topics.filter((t) => !shown.has(t.id));
  if (fresh.length === 0) return [];
  for (const t of fresh) shown.add(t.id);
  mkdirSync(home, { recursive: true, mode: 0o700 });
  const tmp = `${marker}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify({ shown: [...shown].sort() }) + "\n", { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, marker);
  return fresh.flatMap((t) => t.lines);
}
