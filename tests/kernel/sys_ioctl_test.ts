/**
 * ioctl(2) through the syscall layer: FS_IOC_FSGETXATTR / FSSETXATTR set
 * and read the extent-size hint of an xipfs file (xipfs_fsxattr.ts), with
 * XFS's rules; unknown commands and non-files give -ENOTTY.
 */

import assert from "node:assert/strict";
import { EBADF, EFAULT, EINVAL, ENOTTY } from "../../src/abi/errno.ts";
import { O_CREAT, O_RDWR } from "../../src/abi/fcntl.ts";
import * as nr from "../../src/abi/syscall_nr.ts";
import { FS_XFLAG_DAX, FS_XFLAG_EXTSIZE } from "../../src/fs/xipfs/xipfs_fsxattr.ts";
import { FS_IOC_FSGETXATTR, FS_IOC_FSSETXATTR, FSXATTR } from "../../src/kernel/sys_ioctl.ts";
import { type Bench, makeBench, SCRATCH } from "./_task.ts";
import { DATA, open, PAGE } from "./_falloc.ts";

const ATTR = SCRATCH + 3 * 1024;

function setX(b: Bench, fd: number, xflags: number, extsize: number): number {
  const a = new Uint8Array(28);
  const v = new DataView(a.buffer);
  v.setUint32(FSXATTR.xflags, xflags, true);
  v.setUint32(FSXATTR.extsize, extsize, true);
  b.poke(ATTR, a);
  return b.call(nr.SYS_ioctl, fd, FS_IOC_FSSETXATTR, ATTR);
}

function getX(b: Bench, fd: number): { xflags: number; extsize: number } {
  assert.equal(b.call(nr.SYS_ioctl, fd, FS_IOC_FSGETXATTR, ATTR), 0);
  const v = new DataView(b.peek(ATTR, 28).buffer);
  return { xflags: v.getUint32(FSXATTR.xflags, true), extsize: v.getUint32(FSXATTR.extsize, true) };
}

Deno.test("ioctl(FS_IOC_FSSETXATTR) sets a 4 MiB extent-size hint on an empty file; FSGETXATTR reads it", () => {
  const b = makeBench("", "always");
  try {
    const fd = open(b, "/f", O_CREAT | O_RDWR);
    assert.equal(getX(b, fd).xflags & FS_XFLAG_EXTSIZE, 0);
    assert.equal(setX(b, fd, FS_XFLAG_EXTSIZE, 4 << 20), 0);
    const got = getX(b, fd);
    assert.equal(got.extsize, 4 << 20);
    assert.equal(got.xflags & FS_XFLAG_EXTSIZE, FS_XFLAG_EXTSIZE);
    assert.equal(got.xflags & FS_XFLAG_DAX, FS_XFLAG_DAX, "inherited from mkfs's root directory");
    // XFS's rules: a power of two of blocks up to the largest, unchanged once blocks exist.
    assert.equal(setX(b, fd, FS_XFLAG_EXTSIZE, 3 * PAGE), -EINVAL, "not a power of two");
    assert.equal(setX(b, fd, FS_XFLAG_EXTSIZE, 8 << 20), -EINVAL, "past 4 MiB");
    assert.equal(setX(b, fd, FS_XFLAG_EXTSIZE, 100), -EINVAL, "not whole blocks");
    b.poke(DATA, new Uint8Array([1]));
    assert.equal(b.call(nr.SYS_pwrite64, fd, DATA, 1, 0, 0), 1);
    assert.equal(setX(b, fd, 0, 0), -EINVAL, "the file has blocks now");
    assert.equal(setX(b, fd, FS_XFLAG_EXTSIZE, 4 << 20), 0, "the same hint is no change");
    assert.equal(getX(b, fd).extsize, 4 << 20);
  } finally {
    b.close();
  }
});

Deno.test("ioctl returns -ENOTTY for an unknown command or a console fd, -EBADF, -EFAULT", () => {
  const b = makeBench();
  try {
    const fd = open(b, "/f", O_CREAT | O_RDWR);
    assert.equal(b.call(nr.SYS_ioctl, fd, 0x5401, ATTR), -ENOTTY, "TCGETS on a file");
    assert.equal(b.call(nr.SYS_ioctl, 1, FS_IOC_FSGETXATTR, ATTR), -ENOTTY, "the console");
    assert.equal(b.call(nr.SYS_ioctl, 77, FS_IOC_FSGETXATTR, ATTR), -EBADF);
    assert.equal(b.call(nr.SYS_ioctl, fd, FS_IOC_FSGETXATTR, 0), -EFAULT);
  } finally {
    b.close();
  }
});
