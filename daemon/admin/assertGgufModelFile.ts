/**
 * The last check before a model file is handed to the backend: it is still a regular file (opened
 * with O_NONBLOCK | O_NOFOLLOW, so a FIFO or a symlink swapped in since the path was checked can
 * neither block a thread nor lead elsewhere) and starts with the GGUF magic. A failure says only
 * what is wrong: the file's bytes are never part of the message (llama.cpp's own magic error
 * quotes them).
 */
import { constants } from "node:fs";
import { open } from "node:fs/promises";
import { ProtocolError } from "../protocol/errorCodes.js";

export async function assertGgufModelFile(path: string): Promise<void> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOFOLLOW);
  } catch {
    throw new ProtocolError("E_BAD_REQUEST", "model_path cannot be opened as a regular file");
  }
  try {
    if (!(await handle.stat()).isFile()) throw new ProtocolError("E_BAD_REQUEST", "model_path is not a regular file");
    const magic = Buffer.alloc(4);
    const { bytesRead } = await handle.read(magic, 0, 4, 0);
    if (bytesRead !== 4 || magic.toString("latin1") !== "GGUF")
      throw new ProtocolError("E_BAD_REQUEST", "model_path is not a GGUF model file");
  } finally {
    await handle.close();
  }
}
