/**
 * Linux riscv32 signal ABI: signal numbers, sigaction flags, si_code
 * values, the signal system-call numbers, and the byte layout of every
 * structure the kernel and a C library exchange about signals
 * (asm-generic/signal.h, asm-generic/siginfo.h, riscv's uapi ucontext.h
 * and sigcontext.h). riscv has no asm/signal.h of its own, so it takes the
 * generic struct sigaction, which has no sa_restorer field.
 *
 * A sigset_t is 64 bits (_NSIG 64, two unsigned longs on riscv32); xip
 * holds one as two int32 words, `lo` for signals 1..32 and `hi` for
 * 33..64, bit (sig - 1) % 32 of its word.
 *
 * @module
 */

// ---------------------------------------------------------------------------
// Signal numbers (asm-generic/signal.h).

export const SIGHUP = 1;
export const SIGINT = 2;
export const SIGQUIT = 3;
export const SIGILL = 4;
export const SIGTRAP = 5;
export const SIGABRT = 6;
export const SIGBUS = 7;
export const SIGFPE = 8;
export const SIGKILL = 9;
export const SIGUSR1 = 10;
export const SIGSEGV = 11;
export const SIGUSR2 = 12;
export const SIGPIPE = 13;
export const SIGALRM = 14;
export const SIGTERM = 15;
export const SIGSTKFLT = 16;
export const SIGCHLD = 17;
export const SIGCONT = 18;
export const SIGSTOP = 19;
export const SIGTSTP = 20;
export const SIGTTIN = 21;
export const SIGTTOU = 22;
export const SIGURG = 23;
export const SIGXCPU = 24;
export const SIGXFSZ = 25;
export const SIGVTALRM = 26;
export const SIGPROF = 27;
export const SIGWINCH = 28;
export const SIGIO = 29;
export const SIGPWR = 30;
export const SIGSYS = 31;
/** The first real-time signal as the kernel counts (C libraries reserve 32..34 for themselves). */
export const SIGRTMIN = 32;
export const SIGRTMAX = 64;
/** _NSIG: the highest signal number. */
export const NSIG = 64;

/** sa_handler values. */
export const SIG_DFL = 0;
export const SIG_IGN = 1;

/** rt_sigprocmask's `how`. */
export const SIG_BLOCK = 0;
export const SIG_UNBLOCK = 1;
export const SIG_SETMASK = 2;

/** The size rt_sig* calls demand in their sigsetsize argument (sizeof(sigset_t)). */
export const SIGSET_SIZE = 8;

// ---------------------------------------------------------------------------
// sa_flags (asm-generic/signal-defs.h).

export const SA_NOCLDSTOP = 0x0000_0001;
export const SA_NOCLDWAIT = 0x0000_0002;
export const SA_SIGINFO = 0x0000_0004;
/** Never accepted: a library sets it to learn whether the kernel clears unknown flags. */
export const SA_UNSUPPORTED = 0x0000_0400;
export const SA_EXPOSE_TAGBITS = 0x0000_0800;
/**
 * Defined by some architectures (and by musl's riscv32 headers), but not
 * by riscv Linux: there the flag is unknown and rt_sigaction clears it.
 */
export const SA_RESTORER = 0x0400_0000;
export const SA_ONSTACK = 0x0800_0000;
export const SA_RESTART = 0x1000_0000;
export const SA_NODEFER = 0x4000_0000;
export const SA_RESETHAND = 0x8000_0000 | 0;
/** What rt_sigaction keeps of sa_flags (Linux's UAPI_SA_FLAGS, riscv: no SA_RESTORER). */
export const UAPI_SA_FLAGS = SA_NOCLDSTOP | SA_NOCLDWAIT | SA_SIGINFO | SA_ONSTACK | SA_RESTART |
  SA_NODEFER | SA_RESETHAND | SA_EXPOSE_TAGBITS;

// ---------------------------------------------------------------------------
// sigaltstack (asm-generic/signal-defs.h, uapi/linux/signal.h).

export const SS_ONSTACK = 1;
export const SS_DISABLE = 2;
export const SS_AUTODISARM = 1 << 31;
/** ss_flags bits that are flags rather than a mode. */
export const SS_FLAG_BITS = SS_AUTODISARM;
export const MINSIGSTKSZ = 2048;
export const SIGSTKSZ = 8192;

// ---------------------------------------------------------------------------
// si_code values (asm-generic/siginfo.h).

export const SI_USER = 0;
export const SI_KERNEL = 0x80;
export const SI_QUEUE = -1;
export const SI_TIMER = -2;
export const SI_MESGQ = -3;
export const SI_ASYNCIO = -4;
export const SI_SIGIO = -5;
export const SI_TKILL = -6;

export const ILL_ILLOPC = 1;
export const ILL_ILLOPN = 2;
export const SEGV_MAPERR = 1;
export const SEGV_ACCERR = 2;
export const BUS_ADRALN = 1;
export const BUS_ADRERR = 2;
export const BUS_OBJERR = 3;
/** Hardware memory error consumed on a machine check: action required. */
export const BUS_MCEERR_AR = 4;
/** Hardware memory error detected, not consumed: action optional. */
export const BUS_MCEERR_AO = 5;
export const TRAP_BRKPT = 1;
export const CLD_EXITED = 1;
export const CLD_KILLED = 2;
export const CLD_DUMPED = 3;
export const CLD_TRAPPED = 4;
export const CLD_STOPPED = 5;
export const CLD_CONTINUED = 6;

// ---------------------------------------------------------------------------
// Kernel-internal errnos (include/linux/errno.h): a system call interrupted
// by a signal returns one of these; the return to user mode turns it into
// EINTR or a restart, never shows it to the program.

/** Restart if the handler has SA_RESTART (or there is no handler), else EINTR. */
export const ERESTARTSYS = 512;
/** Always restart. */
export const ERESTARTNOINTR = 513;
/** Restart only when no handler runs, else EINTR. */
export const ERESTARTNOHAND = 514;
/** Restart through restart_syscall (the task's restart block) when no handler runs. */
export const ERESTART_RESTARTBLOCK = 516;

// ---------------------------------------------------------------------------
// System-call numbers of the signal family (asm-generic/unistd.h; riscv32
// has only the time64 form of rt_sigtimedwait).

export const SYS_restart_syscall = 128;
export const SYS_tkill = 130;
export const SYS_sigaltstack = 132;
export const SYS_rt_sigsuspend = 133;
export const SYS_rt_sigaction = 134;
export const SYS_rt_sigprocmask = 135;
export const SYS_rt_sigpending = 136;
export const SYS_rt_sigqueueinfo = 138;
export const SYS_rt_sigreturn = 139;
export const SYS_rt_tgsigqueueinfo = 240;
export const SYS_rt_sigtimedwait_time64 = 421;

// ---------------------------------------------------------------------------
// Structure layouts, byte offsets (riscv32, ilp32, little-endian).

/** struct sigaction as rt_sigaction reads and writes it: no sa_restorer on riscv. */
export const SIGACTION = { handler: 0, flags: 4, mask: 8 } as const;
export const SIGACTION_SIZE = 16;

/** stack_t. */
export const STACK_T = { sp: 0, flags: 4, size: 8 } as const;
export const STACK_T_SIZE = 12;

/**
 * siginfo_t: three ints, then a union at 12 (__ARCH_SI_PREAMBLE_SIZE on
 * 32-bit). Which union fields apply depends on the signal and si_code.
 */
export const SIGINFO = {
  signo: 0,
  errno: 4,
  code: 8,
  /** _kill, _rt, _sigchld: sender pid and uid. */
  pid: 12,
  uid: 16,
  /** _rt and _timer: sigval (an int or a pointer). */
  value: 20,
  /** _sigchld. */
  status: 20,
  utime: 24,
  stime: 28,
  /** _sigfault: the faulting address, and (BUS_MCEERR_*) the lsb of the poisoned range. */
  addr: 12,
  addrLsb: 16,
  /** _sigpoll. */
  band: 12,
  fd: 16,
} as const;
/** SI_MAX_SIZE: what the kernel writes to and reads from user memory. */
export const SIGINFO_SIZE = 128;
/**
 * The part of a siginfo that carries information (Linux's kernel_siginfo
 * on 32-bit: the preamble plus the largest union member, _sigchld); the
 * rest of the 128 bytes is padding.
 */
export const KSIGINFO_SIZE = 32;

/**
 * struct ucontext (riscv uapi): uc_sigmask is followed by padding to 128
 * bytes (so a wider sigset could fit), then uc_mcontext, aligned to 16
 * because its floating-point union holds 16-byte-aligned Q registers.
 */
export const UCONTEXT = {
  flags: 0,
  link: 4,
  stack: 8,
  sigmask: 20,
  mcontext: 160,
} as const;
export const UCONTEXT_SIZE = 816;

/**
 * struct sigcontext (riscv uapi), from the start of uc_mcontext:
 * sc_regs is struct user_regs_struct, the pc and then x1..x31 (x0 is
 * not stored: its slot holds the pc), 4 bytes each; then the FP union
 * (528 bytes), whose last 12 bytes are, in the extension header view,
 * the `reserved` word (must be 0) and an end header {magic, size} (both
 * 0 when no extension state follows).
 */
export const SIGCONTEXT = {
  regs: 0,
  fpregs: 128,
  extReserved: 128 + 516,
  extMagic: 128 + 520,
  extSize: 128 + 524,
} as const;
export const SIGCONTEXT_SIZE = 656;

/** struct rt_sigframe (arch/riscv/kernel/signal.c): siginfo then ucontext. */
export const RT_SIGFRAME = { info: 0, uc: SIGINFO_SIZE } as const;
/** sizeof(struct rt_sigframe), already a multiple of 16. */
export const RT_SIGFRAME_SIZE = SIGINFO_SIZE + UCONTEXT_SIZE;

// ---------------------------------------------------------------------------
// 64-bit signal sets as two words.

/** A sigset_t: lo holds signals 1..32, hi 33..64. */
export interface SigSet {
  lo: number;
  hi: number;
}

/** The empty set. */
export const sigsetEmpty = (): SigSet => ({ lo: 0, hi: 0 });
/** A set holding only `sig`. */
export const sigsetOf = (sig: number): SigSet =>
  sig <= 32 ? { lo: 1 << (sig - 1), hi: 0 } : { lo: 0, hi: 1 << (sig - 33) };
/** Is `sig` in `s`? */
export const sigismember = (s: SigSet, sig: number): boolean =>
  sig <= 32 ? (s.lo & (1 << (sig - 1))) !== 0 : (s.hi & (1 << (sig - 33))) !== 0;
/** SIGKILL and SIGSTOP: never blockable, never catchable. */
export const SIG_KERNEL_ONLY: SigSet = { lo: (1 << (SIGKILL - 1)) | (1 << (SIGSTOP - 1)), hi: 0 };
/**
 * The signals a fault raises, which dequeue first (Linux's
 * SYNCHRONOUS_MASK), so a handler sees the fault before an older
 * asynchronous signal.
 */
export const SYNCHRONOUS_MASK = (1 << (SIGSEGV - 1)) | (1 << (SIGBUS - 1)) |
  (1 << (SIGILL - 1)) | (1 << (SIGTRAP - 1)) | (1 << (SIGFPE - 1)) | (1 << (SIGSYS - 1));

/** Read a sigset_t from `dv` at byte `off`. */
export const getSigset = (dv: DataView, off: number): SigSet => ({
  lo: dv.getInt32(off, true),
  hi: dv.getInt32(off + 4, true),
});
/** Write `s` to `dv` at byte `off`. */
export function putSigset(dv: DataView, off: number, s: SigSet): void {
  dv.setInt32(off, s.lo, true);
  dv.setInt32(off + 4, s.hi, true);
}
