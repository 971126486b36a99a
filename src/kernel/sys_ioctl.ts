/**
 * ioctl(2): a table of commands by number (Linux's do_vfs_ioctl plus the
 * file systems' ->unlocked_ioctl, reduced to what xip's guests use).
 * Unknown commands return -ENOTTY, as Linux does for a file that has no
 * such ioctl. Other groups add their commands to IOCTLS.
 *
 * FS_IOC_FSGETXATTR / FS_IOC_FSSETXATTR (struct fsxattr, linux/fs.h)
 * read and set the extent-size hint of an xipfs regular file
 * (src/fs/xipfs/xipfs_fsxattr.ts): with 4 MiB, DAX maps the file with megapages.
 *
 * @module
 */

import { EBADF, EFAULT, ENOTTY } from "../abi/errno.ts";
import * as nr from "../abi/syscall_nr.ts";
import { defineSyscall, type SyscallDef } from "./syscall_def.ts";
import type { Task } from "./task.ts";
import { userRead, userWrite } from "./uaccess_task.ts";

/** _IOR('X', 31, struct fsxattr): read a file's fsxattr. */
export const FS_IOC_FSGETXATTR = 0x801c_581f;
/** _IOW('X', 32, struct fsxattr): set it. */
export const FS_IOC_FSSETXATTR = 0x401c_5820;

/** struct fsxattr: xflags, extsize, nextents, projid, cowextsize (u32 each), 8 bytes of pad. */
export const FSXATTR = { xflags: 0, extsize: 4, nextents: 8, projid: 12, cowextsize: 16 } as const;
export const FSXATTR_BYTES = 28;

/** An ioctl command's handler: the task, the fd and the argument; returns a0. */
export type IoctlFn = (t: Task, fd: number, arg: number) => number;

/** Command → handler. */
export const IOCTLS: Map<number, IoctlFn> = new Map([
  [FS_IOC_FSGETXATTR, fsGetXattr],
  [FS_IOC_FSSETXATTR, fsSetXattr],
]);

/**
 * ioctl(fd, cmd, arg). As do_vfs_ioctl, a fd that is not open is -EBADF
 * whatever the command; a command the table lacks is -ENOTTY (the console
 * fds have no terminal commands: TCGETS and TIOCGWINSZ are -ENOTTY too).
 */
export function sysIoctl(t: Task, fd: number, cmd: number, arg: number): number {
  if (typeof t.files.fstat(fd) === "number") return -EBADF;
  const fn = IOCTLS.get(cmd >>> 0);
  if (fn === undefined) return -ENOTTY;
  return fn(t, fd, arg >>> 0);
}

function fsGetXattr(t: Task, fd: number, arg: number): number {
  let attr = new Uint8Array(0);
  const r = t.files.withInode(fd, (xip, ip) => {
    const a = xip.getFsxattr(ip);
    attr = new Uint8Array(FSXATTR_BYTES);
    const v = new DataView(attr.buffer);
    v.setUint32(FSXATTR.xflags, a.xflags, true);
    v.setUint32(FSXATTR.extsize, a.extsize, true);
    return 0;
  });
  if (r < 0) return r;
  return userWrite(t, arg, attr) < 0 ? -EFAULT : 0;
}

function fsSetXattr(t: Task, fd: number, arg: number): number {
  const bytes = userRead(t, arg, FSXATTR_BYTES);
  if (typeof bytes === "number") return -EFAULT;
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const a = {
    xflags: v.getUint32(FSXATTR.xflags, true),
    extsize: v.getUint32(FSXATTR.extsize, true),
  };
  // Linux asks for inode_owner_or_capable, not a writable fd; guests are root.
  return t.files.withInode(fd, (xip, ip) => xip.setFsxattr(ip, a));
}

export const IOCTL_SYSCALLS: readonly SyscallDef[] = [
  defineSyscall(nr.SYS_ioctl, "ioctl", ["fd", "ioctlcmd", "ptr"], sysIoctl),
];
