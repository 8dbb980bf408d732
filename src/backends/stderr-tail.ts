// A child's stderr forwarded to ours as it comes, with its last few KiB kept
// as text so the caller can tell the tool's own failures (docker exec, smolvm)
// from the command's. One decoder for the whole stream: a multibyte
// character split across two chunks is decoded whole, not as two U+FFFDs.
export async function forwardStderr(
  stream: ReadableStream<Uint8Array>,
  write: (chunk: Uint8Array) => void = (c) => void process.stderr.write(c),
  keep = 4096,
): Promise<string> {
  const dec = new TextDecoder();
  let tail = "";
  for await (const chunk of stream) {
    write(chunk);
    tail = (tail + dec.decode(chunk, { stream: true })).slice(-keep);
  }
  return (tail + dec.decode()).slice(-keep);
}
