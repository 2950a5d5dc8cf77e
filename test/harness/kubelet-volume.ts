// What the kubelet's atomic writer does to a Secret volume (cert-manager's
// mounted certificate): the files go into a new timestamped directory, then
// one rename of the ..data link swaps them all at once; the visible names are
// links through ..data, and the previous version is removed.
import { mkdirSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export function publishSecretVolume(directory: string, files: Record<string, string>, generation: number): void {
  const versioned = `..2030_01_01_00_00_${String(generation).padStart(2, "0")}.000000001`;
  mkdirSync(join(directory, versioned));
  for (const [name, content] of Object.entries(files)) writeFileSync(join(directory, versioned, name), content);
  let previous: string | undefined;
  try {
    previous = readlinkSync(join(directory, "..data"));
  } catch {
    previous = undefined;
  }
  symlinkSync(versioned, join(directory, "..data_tmp"));
  renameSync(join(directory, "..data_tmp"), join(directory, "..data"));
  for (const name of Object.keys(files)) {
    try {
      symlinkSync(join("..data", name), join(directory, name));
    } catch {
      // already linked through ..data
    }
  }
  if (previous) rmSync(join(directory, previous), { recursive: true, force: true });
}
