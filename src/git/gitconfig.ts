// The bottle's ~/.gitconfig section that sends each declared upstream to the
// gate (git.bottle.internal), so a plain `git push origin` / `git clone
// <upstream url>` inside the bottle goes through the mirror and its hook.
// Pure; the provisioner writes the text.

export const GIT_VHOST = "git.bottle.internal";

// The implicit upstream that serves the host repository `up` ran in (the
// bottle's pushes land under refs/heads/bottle/<slug>/); no manifest
// upstream may take this name.
export const WORKSPACE_UPSTREAM = "workspace";

export function gateRepoUrl(name: string, base = `http://${GIT_VHOST}`): string {
  return `${base}/${name}.git`;
}

function quote(v: string): string {
  return '"' + v.replace(/\\/g, "\\\\").replace(/"/g, '\\"') + '"';
}

// git picks the longest matching insteadOf prefix, so both "X.git" and "X"
// map exactly onto the mirror without "X" also catching "X.git".
export function insteadOfConfig(upstreams: readonly { name: string; url: string }[], base?: string): string {
  let out = "";
  for (const u of upstreams) {
    out += `[url ${quote(gateRepoUrl(u.name, base))}]\n`;
    const variants = new Set([u.url]);
    if (u.url.endsWith(".git")) variants.add(u.url.slice(0, -4));
    else variants.add(u.url + ".git");
    for (const v of variants) out += `\tinsteadOf = ${quote(v)}\n`;
  }
  return out;
}
