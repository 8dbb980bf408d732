import { provisionBottle } from "../../provision/provision.ts";
import { buildAgentImage } from "./agent-image.ts";
import type { SmolmachinesOptions } from "./index.ts";

// What the smolmachines backend gets from outside its folder, in one place so
// the registry and the tests wire it the same way: the shared provisioner
// (CA trust, prompt, skills, git config, Claude settings; it only uses the
// Bottle interface) and the docker-built agent image for bottles without
// `image:`.
export function sharedWiring(hostEnv: Record<string, string | undefined>, home?: string): Required<Pick<SmolmachinesOptions, "provision" | "agentImage">> {
  return {
    provision: (bottle, spec, _plan, ctx) => provisionBottle(bottle, { spec, stateDir: ctx.stateDir, hostEnv, progress: ctx.progress }),
    agentImage: (ctx) => buildAgentImage(ctx, { hostEnv, home }),
  };
}
