// Replaces a file so that a reader sees the old content or the new, never a
// mix: write a temporary file in the same directory (same filesystem, so the
// rename is atomic), flush it, then rename it over the target.
import { randomBytes } from "node:crypto";
import { open, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

/**
 * World-readable, read-only. App containers may run as another UID than the
 * agent and nothing guarantees a shared fsGroup; the volume is mounted only in
 * this pod's containers, and the agent-token file guards the loopback API
 * against processes that can reach loopback but cannot read this volume.
 */
export const CREDENTIAL_FILE_MODE = 0o444;

export async function writeFileAtomic(path: string, content: string, mode = CREDENTIAL_FILE_MODE): Promise<void> {
  // A dot name: readers globbing the directory never pick a half-written file.
  const temporary = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString("hex")}.tmp`);
  try {
    const handle = await open(temporary, "wx", 0o600);
    try {
      await handle.writeFile(content, "utf8");
      await handle.chmod(mode);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}
