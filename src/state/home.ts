import { realpathSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { basename, dirname, join, resolve, sep } from "node:path";
import { accountHome } from "../child-env.ts";
import { UserError } from "../errors.ts";

// The claude-bottle home: where bottles come from, and bottles decide which
// host secrets exist and where they may go. Its location is the trust
// boundary. CLAUDE_BOTTLE_HOME moves it (tests, a second set-up), and so
// does HOME, but a repository's `.envrc` or `.env` loader can set either.
// So, judged by real paths (symlinks resolved):
// - no home may lie inside the workspace being bottled (a mounted one is
//   writable from the bottle, a copied one is handed to it);
// - a home chosen through the environment may not lie inside the git
//   repository of the current folder: the repository would choose your
//   bottles. HOME is exempt when it is the account's own home directory
//   (someone keeping dotfiles in a repository at ~);
// - a home named by CLAUDE_BOTTLE_HOME must be the user's and not writable
//   by group or others (the home and its bottles folder).

export interface HomeContext {
  cwd?: string; // default: process.cwd()
  // The folder being bottled (copied or mounted), once known (`up`).
  workspace?: string | null;
}

// The top of the git work tree containing dir, found without running git.
export function findGitRoot(dir: string): string | null {
  let cur = resolve(dir);
  for (let i = 0; i < 256; i++) {
    try {
      statSync(join(cur, ".git"));
      return cur;
    } catch {
      // keep walking up
    }
    const up = dirname(cur);
    if (up === cur) return null;
    cur = up;
  }
  return null;
}

export function bottleHome(env: Record<string, string | undefined> = process.env, ctx: HomeContext = {}): string {
  const override = env.CLAUDE_BOTTLE_HOME;
  // Absolute: state dirs are how our processes are recognised (their argv
  // names them) and the gate runs with its state dir as working directory.
  if (override && override.length > 0) {
    const home = resolve(override);
    const bad = placeProblem(home, ctx, true) ?? ownerProblem(home);
    if (bad) throw new UserError(`the claude-bottle home ${describe(home)}, set through CLAUDE_BOTTLE_HOME, ${bad.why}: ${bad.fix ?? "unset CLAUDE_BOTTLE_HOME or point it at a folder of your own"}${bad.where}`);
    return home;
  }
  const fromEnv = env.HOME && env.HOME.length > 0;
  const home = join(fromEnv ? env.HOME! : homedir(), ".claude-bottle");
  const bad = placeProblem(home, ctx, Boolean(fromEnv));
  if (bad && !(bad.repo && isAccountHome(dirname(home)))) {
    if (bad.repo) throw new UserError(`the claude-bottle home ${describe(home)}, set through HOME, ${bad.why}: unset whatever sets HOME here`);
    throw new UserError(`your claude-bottle home ${describe(home)} ${bad.why}: run from a folder that does not contain it`);
  }
  return home;
}

// The real path of p, for as much of it as exists (a home that is yet to
// be created is judged by where it would be).
function realish(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    const up = dirname(p);
    return up === p ? p : join(realish(up), basename(p));
  }
}

const describe = (home: string) => (realish(home) !== home ? `${home} (really ${realish(home)})` : home);
const inside = (p: string, dir: string) => p === dir || p.startsWith(dir.endsWith(sep) ? dir : dir + sep);

type Problem = { why: string; fix?: string; where: string; repo: boolean };

function placeProblem(home: string, ctx: HomeContext, checkRepo: boolean): Problem | null {
  const real = realish(home);
  if (ctx.workspace && inside(real, realish(ctx.workspace))) {
    return { why: `is inside the workspace being bottled (${ctx.workspace})`, where: " outside it", repo: false };
  }
  const repo = checkRepo ? findGitRoot(ctx.cwd ?? process.cwd()) : null;
  if (repo && inside(real, realish(repo))) {
    return { why: `is inside the git repository ${repo}, and a repository must not choose your bottles`, where: " outside it", repo: true };
  }
  return null;
}

// Only the parts that exist: `init` creates the rest (0700).
function ownerProblem(home: string): Problem | null {
  const real = realish(home);
  const uid = process.getuid?.();
  for (const dir of [real, join(real, "bottles")]) {
    let st;
    try {
      st = statSync(dir);
    } catch {
      continue;
    }
    const it = dir === real ? "is" : "has a bottles folder";
    if (uid !== undefined && st.uid !== uid) return { why: `${it} owned by uid ${st.uid}, not you`, where: "", repo: false };
    if (st.mode & 0o022) return { why: `${it} writable by ${st.mode & 0o002 ? "everyone" : "its group"}`, fix: `chmod go-w ${dir}`, where: "", repo: false };
  }
  return null;
}

// Whether dir is the account's home directory in the user database, which
// no environment variable changes (child-env.ts: accountHome). Asked only
// when HOME would otherwise be refused.
function isAccountHome(dir: string): boolean {
  const recorded = accountHome();
  return recorded !== null && realish(recorded) === realish(dir);
}
