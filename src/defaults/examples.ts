// The commented examples `claude-bottle init` writes. They must stay valid
// manifests: a test loads them exactly as written.

export const EXAMPLE_BOTTLE = `---
# An example bottle. A bottle says what an agent may reach and with which
# credentials. Bottles are only read from this folder (never from a project's
# ./.claude-bottle/), because they decide where your secrets may go.
#
# Start from the built-in "claude" bottle (Claude Code's own hosts; those are
# always added to every bottle anyway).
extends: claude

# Environment for the agent. Values never appear in plans or logs.
env:
  GIT_AUTHOR_NAME: "Example Agent"     # a literal
  # GITHUB_USER: "\${GITHUB_USER}"     # copied from your shell at launch
  # SOME_SECRET: "?Paste the secret"   # asked on the terminal at launch

# Hosts the agent may reach through the gate. Anything else is blocked.
egress:
  - host: api.github.com
    methods: [GET]
    # paths: [/repos/]                 # path prefixes
    # auth:                            # the gate adds the real token on the wire;
    #   token_ref: GITHUB_TOKEN        # the bottle only ever sees a placeholder
    #   scheme: Bearer
  # - host: github.com
  #   tls: passthrough                 # no TLS termination (no DLP on content)

# Git upstreams the agent may push to, through the gate's secret scan.
# git:
#   - name: my-repo
#     url: git@github.com:me/my-repo.git
#     identity_file: ~/.ssh/id_ed25519
#     host_key: "ssh-ed25519 AAAA..."  # pinned: no trust on first use
#     branches: [agent/*]

# resources:
#   cpus: 2
#   memory: 4096                       # MiB
---

Notes about this bottle for humans. The body of a bottle file is ignored.
`;

export const EXAMPLE_AGENT = `---
# An example agent. Agents may live here or in a project's
# ./.claude-bottle/agents/ folder; they only pick a bottle, never define one.
bottle: example
# skills: [my-skill]                   # copied from ~/.claude/skills/<name>
# workspace: copy                      # copy | mount | none (default: copy in a git repo)
---

You are a careful coding agent working in a sealed bottle. The body of an
agent file is its system prompt.
`;
