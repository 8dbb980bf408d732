import { UserError } from "../../errors.ts";
import { bottleHome } from "../../state/paths.ts";
import { probeDocker } from "../select.ts";
import type { LaunchContext } from "../types.ts";

// The agent image for a bottle whose `image:` is empty: the docker backend's
// agent image (same Dockerfile, same Claude Code pin, same user and home the
// provisioner writes to), built with the host's docker. image.ts then
// exports it once with `docker save`, so the VM never needs a network.
// Without docker on the host there is no way to build it: the bottle must
// name a local archive or rootfs.

export interface AgentImageDeps {
  hostEnv: Record<string, string | undefined>;
  home?: string; // default: CLAUDE_BOTTLE_HOME or ~/.claude-bottle
  dockerBin?: string; // default "docker"
}

export function noDockerMessage(reason: string): string {
  return `the smolmachines backend needs an agent image and cannot build one (${reason}); set \`image:\` in the bottle to a local archive or rootfs path (a \`docker save\` tar or an unpacked directory), or install and start docker on the host to build the agent image`;
}

export async function buildAgentImage(ctx: LaunchContext, deps: AgentImageDeps): Promise<string> {
  const probe = probeDocker(deps.hostEnv);
  if (!probe.usable) throw new UserError(noDockerMessage(probe.problems[0]?.what ?? "docker is not usable"));
  // Loaded only here: a bottle with its own archive never touches docker code.
  const [{ ensureAgentImage }, { createSteps }] = await Promise.all([import("../docker/image.ts"), import("../docker/progress.ts")]);
  const steps = createSteps({ tty: Boolean(process.stderr.isTTY), line: ctx.progress });
  try {
    const image = await ensureAgentImage({
      docker: { bin: deps.dockerBin ?? "docker", env: () => deps.hostEnv },
      home: deps.home ?? bottleHome(deps.hostEnv),
      specImage: undefined, // only called when the bottle names no image
      hostEnv: deps.hostEnv,
      steps,
      verbose: ctx.verbose,
      err: (l) => void process.stderr.write(l + "\n"),
      onBuild: ctx.imageBuild,
    });
    return image.tag;
  } finally {
    steps.done();
  }
}
