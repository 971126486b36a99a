/* setjmp.h: non-local jumps. sigsetjmp(env, 1) also saves the signal mask,
 * and siglongjmp puts it back, so a program can jump out of a signal
 * handler (SIGSEGV, say) with the handler's mask undone. */
#ifndef XC_SETJMP_H
#define XC_SETJMP_H

/* ra, sp, s0..s11 */
typedef unsigned long jmp_buf[14];

struct __xc_sigjmp {
  jmp_buf __jb;             /* offset 0 */
  int __savemask;           /* 56 */
  unsigned long __mask[2];  /* 60 */
  unsigned long __ra, __s0; /* 68, 72: sigsetjmp's own, across its call of setjmp */
};
typedef struct __xc_sigjmp sigjmp_buf[1];

int setjmp(jmp_buf env) __attribute__((returns_twice));
void longjmp(jmp_buf env, int val) __attribute__((noreturn));
int sigsetjmp(sigjmp_buf env, int savemask) __attribute__((returns_twice));
void siglongjmp(sigjmp_buf env, int val) __attribute__((noreturn));

#endif
