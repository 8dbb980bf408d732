import { UserError } from "../errors.ts";
import type { GatePolicy } from "../gate/types.ts";
import { allowHost, canonicalPattern, routeKey } from "../policy/edit.ts";
import { parsePrivateEntry } from "../manifest/private-address.ts";
import type { EgressRoute, GitUpstream } from "../manifest/schema.ts";
import { cleanLine } from "./sanitize.ts";
import type { SuperviseRequest } from "./schema.ts";

// What an approval changes in a bottle's gate policy. Pure: the operator
// side computes the edit, checks it, then writes policy.json through the
// gate's applyEdit (which SIGHUPs the gate: live reload, no restart).

export interface ApproveOptions {
  // The operator lets the approved host resolve to private / loopback
  // addresses (a LAN service): all of them (true: an exact host only, like
  // the manifest) or the ones listed (`10.0.0.5`, `192.168.1.0/24:5432`).
  // Never asked for by the agent.
  allowPrivate?: boolean | string[];
}

// The route's allow_private for an approval, checked by the manifest's rules.
function privateFor(host: string, allow: ApproveOptions["allowPrivate"]): EgressRoute["allow_private"] {
  if (allow === undefined || allow === false) return false;
  if (allow === true) {
    if (host.startsWith("*.")) {
      throw new UserError(
        `--allow-private on ${host} would let any name under it reach every private and loopback address; name the addresses it may reach instead: --private-address 10.0.0.5,192.168.1.0/24:5432`,
      );
    }
    return true;
  }
  if (allow.length === 0 || allow.length > 64) throw new UserError("--private-address takes 1 to 64 addresses, comma-separated");
  for (const a of allow) {
    const e = parsePrivateEntry(a);
    if ("error" in e) throw new UserError(`--private-address: '${cleanLine(a).slice(0, 64)}' ${e.error}`);
  }
  return [...allow];
}

export interface Edit {
  policy: GatePolicy;
  changed: boolean;
  // Human-readable, for the answer the agent reads and the audit.
  applied: string;
  route?: EgressRoute;
  upstream?: GitUpstream;
}

export function planApproval(req: SuperviseRequest, policy: GatePolicy, opts: ApproveOptions = {}): Edit {
  switch (req.kind) {
    case "stuck":
      return { policy, changed: false, applied: "" };
    case "egress": {
      const e = req.egress;
      const o = { methods: e.methods ?? undefined, paths: e.paths ?? undefined };
      // allowHost canonicalises and validates; on an empty policy it yields
      // exactly the route it would append.
      const base = allowHost({ ...policy, routes: [] }, e.host, o).policy.routes[0]!;
      const allowPrivate = privateFor(base.host, opts.allowPrivate);
      const route: EgressRoute = {
        ...base,
        ...(e.ports ? { ports: e.ports } : {}),
        ...(allowPrivate !== false ? { allow_private: allowPrivate } : {}),
      };
      const applied =
        `allowed ${route.host}${route.ports ? `:${route.ports.join(",")}` : ""}` +
        `${route.methods ? ` (${route.methods.join(",")})` : ""}${route.paths ? ` ${route.paths.join(",")}` : ""}` +
        (allowPrivate === true ? " including private addresses" : allowPrivate ? ` including private addresses ${allowPrivate.join(", ")}` : "");
      const key = routeKey(route);
      const same = policy.routes.some((r) => routeKey(r) === key);
      return { policy: same ? policy : { ...policy, routes: [...policy.routes, route] }, changed: !same, applied, route };
    }
    case "git": {
      const g = req.git;
      const i = policy.git.findIndex((u) => u.name === g.upstream);
      if (i < 0) throw new UserError(`bottle ${policy.slug} has no git upstream '${g.upstream}' any more; reject the request`);
      const before = policy.git[i]!;
      const next: GitUpstream = { ...before };
      const done: string[] = [];
      if (g.branch !== null) {
        // No `branches` list means every branch is already allowed.
        if (before.branches && !before.branches.includes(g.branch)) {
          next.branches = [...before.branches, g.branch];
          done.push(`branch ${g.branch}`);
        }
      }
      if (g.allow_force && !before.allow_force) {
        next.allow_force = true;
        done.push("force pushes");
      }
      if (g.allow_delete && !before.allow_delete) {
        next.allow_delete = true;
        done.push("branch deletion");
      }
      const changed = done.length > 0;
      const git = [...policy.git];
      git[i] = next;
      return {
        policy: changed ? { ...policy, git } : policy,
        changed,
        applied: changed ? `allowed ${done.join(", ")} on ${g.upstream}` : `${g.upstream} already allowed this`,
        upstream: next,
      };
    }
  }
}

// Does `policy` (the gate's live one) carry what `req` asked for? The gate
// side waits for this after an approval so that "approved" means the next
// request already passes.
export function approvalVisible(req: SuperviseRequest, policy: GatePolicy): boolean {
  switch (req.kind) {
    case "stuck":
      return true;
    case "egress": {
      let want: string;
      try {
        want = canonicalPattern(req.egress.host);
      } catch {
        return true; // nothing could have been applied
      }
      return policy.routes.some((r) => {
        try {
          return canonicalPattern(r.host) === want;
        } catch {
          return false;
        }
      });
    }
    case "git": {
      const u = policy.git.find((x) => x.name === req.git.upstream);
      if (!u) return true;
      return (
        (req.git.branch === null || !u.branches || u.branches.includes(req.git.branch)) &&
        (!req.git.allow_force || u.allow_force) &&
        (!req.git.allow_delete || u.allow_delete)
      );
    }
  }
}
