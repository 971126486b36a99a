/**
 * The riscv signal frame (arch/riscv/kernel/signal.c): setup_rt_frame,
 * rt_sigreturn's restore, and the alternate signal stack
 * (kernel/signal.c do_sigaltstack, __save_altstack, restore_altstack).
 *
 * The frame goes on the user stack, or on the alternate stack for an
 * SA_ONSTACK handler when one is set up and not already in use:
 *
 * ```
 *  old sp (or ss_sp + ss_size)
 *   ...  down to a 16-byte boundary
 *  sp + 128 → struct ucontext: uc_flags 0, uc_link 0, uc_stack (the
 *             altstack), uc_sigmask (the mask to restore), uc_mcontext:
 *             { pc, x1..x31 } then the FP area (zero: rv32ima has no F/D),
 *             whose extension header says "no more state" (reserved 0,
 *             END magic 0 size 0)
 *  sp     → siginfo_t (128 bytes)
 * ```
 *
 * The handler starts with a0 = sig, a1 = &siginfo, a2 = &ucontext (always,
 * SA_SIGINFO or not, as Linux does), sp = the frame, and ra = the
 * sigreturn trampoline on the [vdso] page (vdso.ts): riscv Linux ignores
 * sa_restorer and always returns through its vDSO.
 *
 * @module
 */

import { EFAULT, EINVAL, ENOMEM, EPERM } from "../abi/errno.ts";
import { REG_A0, REG_A1, REG_A2, REG_RA, REG_SP } from "../abi/regs.ts";
import {
  getSigset,
  MINSIGSTKSZ,
  putSigset,
  RT_SIGFRAME,
  RT_SIGFRAME_SIZE,
  SA_ONSTACK,
  SIGCONTEXT,
  SIGINFO_SIZE,
  type SigSet,
  SS_AUTODISARM,
  SS_DISABLE,
  SS_FLAG_BITS,
  SS_ONSTACK,
  STACK_T,
  STACK_T_SIZE,
  UCONTEXT,
} from "../abi/signal.ts";
import { SIGTASK } from "../abi/layout/signal.ts";
import { asVirt, type MmId, type TaskSlot } from "../abi/types.ts";
import type { Hart } from "../hw/hart.ts";
import type { Memory } from "../hw/memory.ts";
import { copyFromUser, copyToUser } from "../mm/uaccess.ts";
import { type KSigInfo, type SigAction, sigTask } from "./signal_state.ts";
import { accessOk } from "./uaccess_task.ts";
import { vdsoSigreturn } from "./vdso.ts";

/** A task's alternate signal stack (its sas_ss_* fields). */
export interface AltStack {
  sp: number;
  size: number;
  flags: number;
}

/** Read task `tid`'s alternate stack. Only the task itself writes it. */
export function getAltStack(mem: Memory, tid: TaskSlot): AltStack {
  const b = sigTask(mem, tid);
  return {
    sp: mem.k32[b + SIGTASK.sasSp]! >>> 0,
    size: mem.k32[b + SIGTASK.sasSize]! >>> 0,
    flags: mem.k32[b + SIGTASK.sasFlags]!,
  };
}

function setAltStack(mem: Memory, tid: TaskSlot, s: AltStack): void {
  const b = sigTask(mem, tid);
  mem.k32[b + SIGTASK.sasSp] = s.sp | 0;
  mem.k32[b + SIGTASK.sasSize] = s.size | 0;
  mem.k32[b + SIGTASK.sasFlags] = s.flags;
}

/** Is `sp` on the alternate stack (on_sig_stack; never with SS_AUTODISARM)? */
function onSigStack(s: AltStack, sp: number): boolean {
  if ((s.flags & SS_AUTODISARM) !== 0) return false;
  return sp > s.sp && sp - s.sp <= s.size;
}

/** ss_flags as sigaltstack reports them for stack pointer `sp` (sas_ss_flags). */
function sasSsFlags(s: AltStack, sp: number): number {
  if (s.size === 0) return SS_DISABLE;
  return onSigStack(s, sp) ? SS_ONSTACK : 0;
}

/**
 * sigaltstack for task `tid` whose user stack pointer is `sp`
 * (do_sigaltstack): report the current stack, then install `ss` if given.
 * Changing it while running on it fails with -EPERM; a mode other than 0,
 * SS_ONSTACK or SS_DISABLE with -EINVAL; a stack under MINSIGSTKSZ with
 * -ENOMEM.
 *
 * @returns the old stack as stack_t reports it, or a negative errno
 */
export function doSigaltstack(
  mem: Memory,
  tid: TaskSlot,
  ss: AltStack | null,
  sp: number,
): AltStack | number {
  const cur = getAltStack(mem, tid);
  const old = {
    sp: cur.sp,
    size: cur.size,
    flags: sasSsFlags(cur, sp) | (cur.flags & SS_FLAG_BITS),
  };
  if (ss !== null) {
    if (onSigStack(cur, sp)) return -EPERM;
    const mode = ss.flags & ~SS_FLAG_BITS;
    if (mode !== SS_DISABLE && mode !== SS_ONSTACK && mode !== 0) return -EINVAL;
    if (mode === SS_DISABLE) setAltStack(mem, tid, { sp: 0, size: 0, flags: SS_DISABLE });
    else {
      if ((ss.size >>> 0) < MINSIGSTKSZ) return -ENOMEM;
      setAltStack(mem, tid, { sp: ss.sp >>> 0, size: ss.size >>> 0, flags: ss.flags });
    }
  }
  return old;
}

/** Decode a stack_t. */
export function readStackT(b: Uint8Array, off = 0): AltStack {
  const dv = new DataView(b.buffer, b.byteOffset + off, STACK_T_SIZE);
  return {
    sp: dv.getUint32(STACK_T.sp, true),
    flags: dv.getInt32(STACK_T.flags, true),
    size: dv.getUint32(STACK_T.size, true),
  };
}

/** Encode a stack_t. */
export function writeStackT(dv: DataView, off: number, s: AltStack): void {
  dv.setUint32(off + STACK_T.sp, s.sp >>> 0, true);
  dv.setInt32(off + STACK_T.flags, s.flags, true);
  dv.setUint32(off + STACK_T.size, s.size >>> 0, true);
}

/**
 * Build the rt_sigframe for `sig` on task `tid`'s stack and point the hart
 * at the handler (setup_rt_frame). `oldset` is the mask the frame makes
 * rt_sigreturn restore. Entry: no lock held (writing the frame may fault
 * pages in).
 *
 * @returns 0, or -EFAULT when the frame cannot be written (the caller
 *   forces SIGSEGV, as signal_setup_done does)
 */
export function setupRtFrame(
  mem: Memory,
  mm: MmId,
  tid: TaskSlot,
  hart: Hart,
  sig: number,
  info: KSigInfo,
  act: SigAction,
  oldset: SigSet,
): number {
  const x = hart.x;
  const sp = x[REG_SP]! >>> 0;
  const sas = getAltStack(mem, tid);
  // get_sigframe: never overflow the alternate stack into what lies below it.
  if (onSigStack(sas, sp) && !onSigStack(sas, sp - RT_SIGFRAME_SIZE)) return -EFAULT;
  let top = sp;
  if ((act.flags & SA_ONSTACK) !== 0 && sasSsFlags(sas, sp) === 0) top = sas.sp + sas.size;
  const frame = ((top - RT_SIGFRAME_SIZE) & ~0xf) >>> 0;
  if (top < RT_SIGFRAME_SIZE || !accessOk(frame, RT_SIGFRAME_SIZE)) return -EFAULT;

  const b = new Uint8Array(RT_SIGFRAME_SIZE);
  const dv = new DataView(b.buffer);
  for (let i = 0; i < info.length; i++) dv.setInt32(RT_SIGFRAME.info + 4 * i, info[i]!, true);
  const uc = RT_SIGFRAME.uc;
  writeStackT(dv, uc + UCONTEXT.stack, sas); // __save_altstack: the raw flags
  const mc = uc + UCONTEXT.mcontext;
  dv.setUint32(mc + SIGCONTEXT.regs, hart.pc >>> 0, true);
  for (let r = 1; r < 32; r++) dv.setInt32(mc + SIGCONTEXT.regs + 4 * r, x[r]!, true);
  putSigset(dv, uc + UCONTEXT.sigmask, oldset);
  if (copyToUser(mem, mm, asVirt(frame), b) !== 0) return -EFAULT;
  if ((sas.flags & SS_AUTODISARM) !== 0) {
    setAltStack(mem, tid, { sp: 0, size: 0, flags: SS_DISABLE });
  }

  x[REG_RA] = vdsoSigreturn(mem, mm) | 0;
  x[REG_SP] = frame | 0;
  x[REG_A0] = sig;
  x[REG_A1] = (frame + RT_SIGFRAME.info) | 0;
  x[REG_A2] = (frame + RT_SIGFRAME.uc) | 0;
  hart.pc = act.handler >>> 0;
  return 0;
}

/** What rt_sigreturn found in a frame. */
export interface RestoredFrame {
  /** The mask to restore. */
  mask: SigSet;
  /** The alternate stack the frame recorded. */
  stack: AltStack;
}

/**
 * Restore the registers saved in the frame at the hart's sp (rt_sigreturn's
 * restore_sigcontext); the caller sets the mask and the alternate stack. A
 * frame that cannot be read, or whose extension header is not the empty END
 * header xip writes, is bad. Entry: no lock held; reading the frame takes
 * and drops mmap_lock for reading (copyFromUser).
 *
 * @returns the mask and stack, or null for a bad frame (the caller forces
 *   SIGSEGV)
 */
export function restoreRtFrame(mem: Memory, mm: MmId, hart: Hart): RestoredFrame | null {
  const frame = hart.x[REG_SP]! >>> 0;
  if (!accessOk(frame, RT_SIGFRAME_SIZE)) return null;
  const b = copyFromUser(mem, mm, asVirt(frame), RT_SIGFRAME_SIZE);
  if (typeof b === "number") return null;
  const dv = new DataView(b.buffer);
  const uc = RT_SIGFRAME.uc, mc = uc + UCONTEXT.mcontext;
  const mask = getSigset(dv, uc + UCONTEXT.sigmask);
  if (dv.getUint32(mc + SIGCONTEXT.extReserved, true) !== 0) return null;
  if (dv.getUint32(mc + SIGCONTEXT.extMagic, true) !== 0) return null; // only END is known
  if (dv.getUint32(mc + SIGCONTEXT.extSize, true) !== 0) return null;
  hart.pc = dv.getUint32(mc + SIGCONTEXT.regs, true);
  for (let r = 1; r < 32; r++) hart.x[r] = dv.getInt32(mc + SIGCONTEXT.regs + 4 * r, true);
  return { mask, stack: readStackT(b, uc + UCONTEXT.stack) };
}

/** Bytes of siginfo_t user memory a siginfo fills (the rest of the 128 is zero). */
export function siginfoBytes(info: KSigInfo): Uint8Array {
  const b = new Uint8Array(SIGINFO_SIZE);
  const dv = new DataView(b.buffer);
  for (let i = 0; i < info.length; i++) dv.setInt32(4 * i, info[i]!, true);
  return b;
}
