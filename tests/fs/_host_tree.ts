/**
 * Test helper (not a test): builds a host directory tree for mkfs tests and
 * remembers what it wrote.
 */

/** Seeded PRNG (mulberry32), so failures replay. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b_79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomBytes(n: number, rand: () => number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (rand() * 256) | 0;
  return b;
}

export interface HostFile {
  /** Path inside the image, absolute. */
  readonly path: string;
  readonly bytes: Uint8Array;
  readonly perm: number;
}

export interface HostTree {
  readonly dir: string;
  readonly files: HostFile[];
  /** image path → symlink target */
  readonly symlinks: Record<string, string>;
  /** image paths of directories with their permission bits */
  readonly dirs: Record<string, number>;
}

const BLOCK = 4096;

/**
 * A tree with nested directories, an empty file, a small file, a file past
 * the 12 direct blocks, one past the single-indirect range (double
 * indirect, 1100 blocks), a sparse file (a zero block in the middle),
 * an executable, a symlink (relative, absolute, long) and a hard link.
 */
export function makeHostTree(seed = 1): HostTree {
  const rand = rng(seed);
  const dir = Deno.makeTempDirSync({ prefix: "xipfs-tree-" });
  const files: HostFile[] = [];
  const put = (path: string, bytes: Uint8Array, perm: number) => {
    Deno.writeFileSync(dir + path, bytes);
    Deno.chmodSync(dir + path, perm);
    files.push({ path, bytes, perm });
  };
  const dirs: Record<string, number> = {
    "/bin": 0o755,
    "/lib": 0o755,
    "/data": 0o750,
    "/data/deep": 0o700,
    "/data/deep/er": 0o755,
  };
  for (const [d, perm] of Object.entries(dirs)) {
    Deno.mkdirSync(dir + d);
    Deno.chmodSync(dir + d, perm);
  }
  put("/empty", new Uint8Array(0), 0o644);
  put("/hello.txt", new TextEncoder().encode("hello, xipfs\n"), 0o644);
  put("/bin/prog", randomBytes(5 * BLOCK + 123, rand), 0o755);
  put("/lib/medium.so", randomBytes(40 * BLOCK + 7, rand), 0o644);
  put("/data/big.bin", randomBytes(1100 * BLOCK + 999, rand), 0o600);
  const sparse = randomBytes(20 * BLOCK, rand);
  sparse.fill(0, 3 * BLOCK, 6 * BLOCK); // three whole zero blocks
  put("/data/deep/er/sparse", sparse, 0o640);
  put("/data/suid", new TextEncoder().encode("#!/bin/sh\n"), 0o4755);
  Deno.linkSync(dir + "/hello.txt", dir + "/data/hardlink");
  files.push({ path: "/data/hardlink", bytes: files[1]!.bytes, perm: 0o644 });
  const symlinks: Record<string, string> = {
    "/bin/rel": "../hello.txt",
    "/abs": "/data/deep/er/sparse",
    "/lib/long": "/data/deep/er/../../../lib/" + "./".repeat(40) + "medium.so",
    "/dangling": "/nope",
  };
  for (const [p, t] of Object.entries(symlinks)) Deno.symlinkSync(t, dir + p);
  return { dir, files, symlinks, dirs };
}

export async function sha256(bytes: Uint8Array): Promise<string> {
  const d = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return [...new Uint8Array(d)].map((x) => x.toString(16).padStart(2, "0")).join("");
}
