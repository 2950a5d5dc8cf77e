// The images the test bed's node runs, as scripts/build-images.sh left them:
// OCI archives that `ctr -n k8s.io images import` takes, listed by role in
// $IMAGES_DIR/index.json (the same path scripts/lib.sh computes).
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { toolPaths } from "../tools.js";

export interface ImageArchive {
  /** The name containerd gives the image once imported, e.g. localhost/ddcred-operator:<hash>. */
  readonly ref: string;
  /** Absolute path of the OCI archive. */
  readonly archive: string;
  readonly sizeBytes: number;
  readonly layers: number;
}

export const IMAGE_ROLES = ["pause", "operator", "app-python", "ray-standin"] as const;
export type ImageRole = (typeof IMAGE_ROLES)[number];

/** pause: the pod sandbox; operator: the Dockerfile's image; app-python: an app for consumer tests; ray-standin: it plus a stand-in `ray` for KubeRay's pods. */
export type ImageIndex = Readonly<Record<ImageRole, ImageArchive>>;

export function imageIndexPath(): string {
  return join(process.env.IMAGES_DIR ?? join(toolPaths().cache, "images"), "index.json");
}

/** The built images; throws, naming the script to run, when any is missing. */
export function readImageIndex(): ImageIndex {
  const path = imageIndexPath();
  const rebuild = "run scripts/build-images.sh (scripts/setup.sh runs it)";
  if (!existsSync(path)) throw new Error(`no image index at ${path}: ${rebuild}`);
  const index = JSON.parse(readFileSync(path, "utf8")) as Partial<Record<ImageRole, ImageArchive>>;
  for (const role of IMAGE_ROLES) {
    const image = index[role];
    if (!image) throw new Error(`${path} lists no ${role} image: ${rebuild}`);
    if (!existsSync(image.archive)) throw new Error(`the ${role} image's archive ${image.archive} is missing: ${rebuild}`);
  }
  return index as ImageIndex;
}
