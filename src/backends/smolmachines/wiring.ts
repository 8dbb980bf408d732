import { buildAgentImage } from "./agent-image.ts";
import type { SmolmachinesOptions } from "./index.ts";

// What the smolmachines backend gets from outside its folder, in one place so
// the registry and the tests wire it the same way: the docker-built agent
// image for bottles without `image:`. (Provisioning is not the backend's:
// the launcher runs it after launch, for every backend.)
export function sharedWiring(hostEnv: Record<string, string | undefined>, home?: string): Required<Pick<SmolmachinesOptions, "agentImage">> {
  return {
    agentImage: (ctx) => buildAgentImage(ctx, { hostEnv, home }),
  };
}
