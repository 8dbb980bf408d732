// Child process for the stdin/exit-code passthrough test: attaches to a
// bottle by slug and runs Bottle.exec with our stdin inherited, exactly as
// `claude-bottle exec/attach` do, then exits with the command's code.
import { createDockerBackend } from "../../../src/backends/docker/index.ts";

const [slug, ...argv] = process.argv.slice(2);
const bottle = await createDockerBackend().attach(slug!);
if (!bottle) {
  console.error(`no bottle ${slug}`);
  process.exit(90);
}
process.exit(await bottle.exec(argv, { stdin: true }));
