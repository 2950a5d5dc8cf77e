// The images the test bed's node runs, read from the OCI archives
// scripts/build-images.sh writes: each image's configuration, and its layers
// unpacked into a directory. The programs in them are started with chroot
// only, to prove they load with nothing but the image's own files; running
// them as pods is the node tests' business.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readImageIndex, type ImageArchive, type ImageIndex } from "../harness/node/images.js";
import { REPO_ROOT, venvBin } from "../harness/paths.js";

interface ImageConfig {
  readonly User?: string;
  readonly Entrypoint?: string[];
  readonly Cmd?: string[];
  readonly Env?: string[];
  readonly WorkingDir?: string;
}

interface UnpackedImage {
  /** The annotations of the archive's index entry. */
  readonly annotations: Record<string, string>;
  readonly config: ImageConfig;
  readonly layers: number;
  /** The layers extracted in order: the image's root filesystem. */
  readonly root: string;
  readonly unpackedBytes: number;
}

const scratch = mkdtempSync(join(tmpdir(), "ddcred-image-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function unpack(role: string, image: ImageArchive): UnpackedImage {
  const layout = join(scratch, role, "oci");
  const root = join(scratch, role, "root");
  mkdirSync(layout, { recursive: true });
  mkdirSync(root);
  execFileSync("tar", ["-xf", image.archive, "-C", layout]);
  const blob = (digest: string) => join(layout, "blobs", ...digest.split(":"));
  const index = JSON.parse(readFileSync(join(layout, "index.json"), "utf8"));
  const manifest = JSON.parse(readFileSync(blob(index.manifests[0].digest), "utf8"));
  const config = JSON.parse(readFileSync(blob(manifest.config.digest), "utf8")).config as ImageConfig;
  // Our images only add files, so extracting the layers in order (no whiteouts) is the root filesystem.
  for (const layer of manifest.layers) execFileSync("tar", ["-xf", blob(layer.digest), "-C", root]);
  const unpackedBytes = Number(execFileSync("du", ["-sb", root], { encoding: "utf8" }).split("\t")[0]);
  return { annotations: index.manifests[0].annotations ?? {}, config, layers: manifest.layers.length, root, unpackedBytes };
}

/** Every path in the image, relative to its root ("/bin/sh"), directories included. */
function paths(root: string, dir = ""): string[] {
  return readdirSync(join(root, dir)).flatMap((name) => {
    const path = `${dir}/${name}`;
    return lstatSync(join(root, path)).isDirectory() ? [path, ...paths(root, path)] : [path];
  });
}

/** Runs a program of the image on the image's files alone, as the given user. */
function runInImage(image: UnpackedImage, user: string, command: string[]) {
  const env = Object.fromEntries((image.config.Env ?? []).map((pair) => pair.split(/=(.*)/s, 2) as [string, string]));
  return spawnSync("chroot", [`--userspec=${user}`, image.root, ...command], { env, encoding: "utf8", timeout: 30_000 });
}

/** Whether an ELF executable names a dynamic loader (a PT_INTERP program header). */
function isDynamicallyLinked(file: string): boolean {
  const elf = readFileSync(file);
  expect(elf.subarray(0, 4).toString("latin1")).toBe("\x7fELF");
  const headerOffset = Number(elf.readBigUInt64LE(0x20));
  const headerSize = elf.readUInt16LE(0x36);
  const headers = elf.readUInt16LE(0x38);
  const PT_INTERP = 3;
  return Array.from({ length: headers }, (_, i) => elf.readUInt32LE(headerOffset + i * headerSize)).includes(PT_INTERP);
}

function describeSize(role: string, image: ImageArchive, unpacked: UnpackedImage): string {
  const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;
  return `${role} image ${image.ref}: ${mb(image.sizeBytes)} archive, ${mb(unpacked.unpackedBytes)} unpacked, ${unpacked.layers} layer(s)`;
}

const isRoot = process.getuid?.() === 0;
const nodeVersion = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")).devDependencies.node as string;
let index: ImageIndex;
let operator: UnpackedImage;
let pause: UnpackedImage;
let app: UnpackedImage;
let ray: UnpackedImage;

beforeAll(() => {
  index = readImageIndex();
  operator = unpack("operator", index.operator);
  pause = unpack("pause", index.pause);
  app = unpack("app-python", index["app-python"]);
  ray = unpack("ray-standin", index["ray-standin"]);
});

describe("every archive", () => {
  it("names its image for containerd, so `ctr images import` tags it with the ref the index gives", () => {
    for (const [role, image] of Object.entries(index)) {
      const unpacked = { operator, pause, "app-python": app, "ray-standin": ray }[role]!;
      expect(unpacked.annotations["io.containerd.image.name"], role).toBe(image.ref);
    }
  });
});

describe("the operator image", () => {
  it("runs as 65532:65532, the chart's runAsUser and the agent's default UID", () => {
    expect(operator.config.User).toBe("65532:65532");
  });

  it("starts the operator bundle with the node its PATH finds", () => {
    expect([...operator.config.Entrypoint!, ...operator.config.Cmd!]).toEqual(["node", "/app/dist/operator.mjs"]);
    const path = operator.config.Env!.find((pair) => pair.startsWith("PATH="))!.slice("PATH=".length);
    const node = path.split(":").map((dir) => `${dir}/node`).find((file) => existsSync(join(operator.root, file)));
    expect(node).toBe("/nodejs/bin/node");
  });

  it("holds the operator's, the agent's and explain's bundles in /app/dist", () => {
    for (const bundle of ["/app/dist/operator.mjs", "/app/dist/agent.mjs", "/app/dist/explain.mjs"]) {
      expect(statSync(join(operator.root, bundle)).size, bundle).toBeGreaterThan(100_000);
    }
  });

  it("has no shell and no package manager", () => {
    const programs = new Set(["sh", "bash", "dash", "ash", "busybox", "npm", "npx", "apt", "apt-get", "dpkg"]);
    expect(paths(operator.root).filter((path) => programs.has(path.split("/").at(-1)!))).toEqual([]);
  });

  it("gives its user nothing to write outside /tmp and its home", () => {
    const writable = paths(operator.root).filter((path) => {
      const stat = lstatSync(join(operator.root, path));
      if (stat.isSymbolicLink()) return false;
      return stat.uid === 65532 ? (stat.mode & 0o200) !== 0 : (stat.mode & 0o002) !== 0;
    });
    expect(writable.filter((path) => path !== "/tmp" && !path.startsWith("/home/nonroot"))).toEqual([]);
  });

  it.skipIf(!isRoot)("runs the Node.js 24 package.json pins, on the image's own libraries", () => {
    const run = runInImage(operator, "65532:65532", ["/nodejs/bin/node", "--version"]);
    expect(run.stderr).toBe("");
    expect(run.stdout.trim()).toBe(`v${nodeVersion}`);
  });

  it.skipIf(!isRoot).each(["operator.mjs", "agent.mjs", "explain.mjs"])("loads %s as 65532 and reports its missing configuration", (bundle) => {
    const run = runInImage(operator, "65532:65532", ["node", `/app/dist/${bundle}`]);
    // 2 is every program's "invalid configuration" (or usage) exit: every import resolved and main ran.
    expect(run.stderr).not.toMatch(/ERR_MODULE_NOT_FOUND|Cannot find (package|module)|error while loading shared libraries/);
    expect(run.status, run.stderr).toBe(2);
  });

  it("stays under 64 MB to pull, in at most 3 layers", () => {
    console.log(describeSize("operator", index.operator, operator));
    expect(index.operator.sizeBytes).toBeLessThan(64e6);
    expect(operator.layers).toBeLessThanOrEqual(3);
  });
});

describe("the pause image", () => {
  it("is one static program, run as a non-root user", () => {
    console.log(describeSize("pause", index.pause, pause));
    expect(paths(pause.root)).toEqual(["/pause"]);
    expect(isDynamicallyLinked(join(pause.root, "pause"))).toBe(false);
    expect(pause.config.Entrypoint).toEqual(["/pause"]);
    expect(pause.config.User).toBe("65535:65535");
  });
});

describe("the app-python image", () => {
  it("runs as UID 1000, not the agent's 65532, so the node tests read the agent's files as another user", () => {
    console.log(describeSize("app-python", index["app-python"], app));
    expect(app.config.User).toBe("1000:1000");
  });

  it("has python3, a POSIX shell and coreutils' cat, which credential_process runs", () => {
    for (const program of ["/usr/bin/python3", "/bin/sh", "/bin/cat"]) {
      expect(existsSync(join(app.root, program)), program).toBe(true);
    }
  });

  it("holds boto3, awscli and datadog-api-client at the versions of the suite's venv", () => {
    const inVenv = execFileSync(venvBin("python"), ["-c", VERSIONS], { encoding: "utf8" });
    const inImage = readdirSync(join(app.root, "usr/local/lib/python3.11/dist-packages"))
      .map((name) => /^(boto3|awscli|datadog_api_client)-(.+)\.dist-info$/.exec(name))
      .filter((match) => match !== null)
      .map((match) => `${match[1]!.replace(/_/g, "-")}==${match[2]}`)
      .sort();
    expect(inImage).toEqual(inVenv.trim().split("\n"));
  });

  it.skipIf(!isRoot)("runs the AWS CLI and imports both clients as UID 1000 with the image's own Python", () => {
    const aws = runInImage(app, "1000:1000", ["aws", "--version"]);
    expect(aws.status, aws.stderr).toBe(0);
    expect(`${aws.stdout}${aws.stderr}`).toMatch(/^aws-cli\/1\.\d+\.\d+ Python\/3\.11\./);
    const imports = runInImage(app, "1000:1000", ["python3", "-c", "import boto3, datadog_api_client; print('ok')"]);
    expect(imports.stderr).toBe("");
    expect(imports.stdout.trim()).toBe("ok");
  });
});

describe("the Ray stand-in image", () => {
  it("is the app image plus a `ray` command, with the bash, wget and grep KubeRay's probes run", () => {
    console.log(describeSize("ray-standin", index["ray-standin"], ray));
    expect(ray.config.User).toBe("1000:1000");
    for (const program of ["/usr/local/bin/ray", "/bin/bash", "/usr/bin/wget", "/bin/grep"]) {
      expect(existsSync(join(ray.root, program)), program).toBe(true);
    }
  });

  it.skipIf(!isRoot)("refuses a `ray` subcommand it does not stand in for, instead of pretending", () => {
    const result = runInImage(ray, "1000:1000", ["ray", "up"]);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain("no `ray up` here");
  });
});

const VERSIONS = `
import importlib.metadata
for name in sorted(["boto3", "awscli", "datadog-api-client"]):
    print(f"{name}=={importlib.metadata.version(name)}")
`;
