/**
 * getdents64 against a hostile caller: Linux's access_ok covers the whole
 * buffer length, and a failed copy-out does not consume the entries.
 */

import assert from "node:assert/strict";
import { EFAULT, EINVAL } from "../../src/abi/errno.ts";
import { AT_FDCWD, O_DIRECTORY, O_RDONLY } from "../../src/abi/fcntl.ts";
import * as nr from "../../src/abi/syscall_nr.ts";
import { makeBench, SCRATCH } from "./_task.ts";

const PATH = SCRATCH, BUF = SCRATCH + 4096;

Deno.test("getdents64 is EFAULT for a length running past user space, even with a good buffer", () => {
  const b = makeBench();
  try {
    b.poke(PATH, new TextEncoder().encode("/\0"));
    const dfd = b.call(nr.SYS_openat, AT_FDCWD, PATH, O_RDONLY | O_DIRECTORY, 0);
    assert.ok(dfd >= 3, `open /: ${dfd}`);
    assert.equal(b.call(nr.SYS_getdents64, dfd, BUF, 0xffff_fff0), -EFAULT);
    assert.equal(b.call(nr.SYS_getdents64, dfd, BUF, 1), -EINVAL, "too small for one entry");
    const all = b.call(nr.SYS_getdents64, dfd, BUF, 4096);
    assert.ok(all > 0, "the entries were not consumed by the failed calls");
  } finally {
    b.close();
  }
});

Deno.test("getdents64 into an unmapped buffer is EFAULT and leaves the entries for a retry", () => {
  const b = makeBench();
  try {
    b.poke(PATH, new TextEncoder().encode("/\0"));
    const dfd = b.call(nr.SYS_openat, AT_FDCWD, PATH, O_RDONLY | O_DIRECTORY, 0);
    assert.equal(b.call(nr.SYS_getdents64, dfd, 0, 4096), -EFAULT, "NULL");
    assert.equal(b.call(nr.SYS_getdents64, dfd, 0x5000_0000, 4096), -EFAULT, "unmapped");
    const n = b.call(nr.SYS_getdents64, dfd, BUF, 4096);
    assert.ok(n > 0, `a retry into a good buffer returns the entries: ${n}`);
    assert.equal(b.call(nr.SYS_getdents64, dfd, BUF, 4096), 0, "then the end");
  } finally {
    b.close();
  }
});
