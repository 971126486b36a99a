/* xld ROOT PROGRAM [ARGS...]: a reference loader for the dynamic fixtures.
 *
 * Linked statically, it runs under qemu-riscv32 and does what the xip
 * runtime's exec does, in the simplest way that is still faithful: load
 * ROOT/PROGRAM and, breadth first, every DT_NEEDED library from ROOT/lib;
 * apply R_RISCV_RELATIVE, R_RISCV_32 and R_RISCV_JUMP_SLOT eagerly; give
 * each segment its own protection; run the DT_INIT_ARRAYs (dependencies
 * first); build a Linux-style stack (argc, argv, envp, auxv) and jump to
 * the entry point with a0 = a function that runs the DT_FINI_ARRAYs, which
 * crt0 registers with atexit.
 *
 * Segments are read into anonymous memory rather than mmapped from the
 * file: sharing is the runtime's business, and this tool only has to prove
 * that the binaries load and run. Exit status 127 means the load failed. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <unistd.h>

#define PAGE 4096u
#define MAX_OBJECTS 8
#define STACK_SIZE (256u * 1024)

#define PT_LOAD 1
#define PT_DYNAMIC 2
#define PT_INTERP 3
#define PT_PHDR 6
#define PF_X 1
#define PF_W 2
#define PF_R 4

enum {
  DT_NULL = 0, DT_NEEDED = 1, DT_PLTRELSZ = 2, DT_HASH = 4, DT_STRTAB = 5, DT_SYMTAB = 6,
  DT_RELA = 7, DT_RELASZ = 8, DT_TEXTREL = 22, DT_JMPREL = 23, DT_INIT_ARRAY = 25,
  DT_FINI_ARRAY = 26, DT_INIT_ARRAYSZ = 27, DT_FINI_ARRAYSZ = 28,
};

enum { R_RISCV_32 = 1, R_RISCV_RELATIVE = 3, R_RISCV_JUMP_SLOT = 5 };

typedef struct {
  unsigned char ident[16];
  uint16_t type, machine;
  uint32_t version, entry, phoff, shoff, flags;
  uint16_t ehsize, phentsize, phnum, shentsize, shnum, shstrndx;
} Ehdr;

typedef struct {
  uint32_t type, offset, vaddr, paddr, filesz, memsz, flags, align;
} Phdr;

typedef struct {
  uint32_t name, value, size;
  unsigned char info, other;
  uint16_t shndx;
} Sym;

typedef struct {
  uint32_t offset, info;
  int32_t addend;
} Rela;

struct object {
  char name[64];
  uintptr_t base; /* load bias: 0 for ET_EXEC */
  Ehdr eh;
  Phdr ph[16];
  uint32_t *dyn;
  const char *strtab;
  const Sym *symtab;
  uint32_t nsyms;
};

static struct object objects[MAX_OBJECTS];
static int nobjects;
static const char *root;

static void fail(const char *what, const char *name) __attribute__((noreturn));
static void fail(const char *what, const char *name) {
  fprintf(stderr, "xld: %s: %s\n", name, what);
  exit(127);
}

static uint32_t dyn_get(const struct object *o, uint32_t tag) {
  for (const uint32_t *d = o->dyn; d && d[0] != DT_NULL; d += 2) {
    if (d[0] == tag) return d[1];
  }
  return 0;
}

static int prot_of(uint32_t flags) {
  return (flags & PF_R ? PROT_READ : 0) | (flags & PF_W ? PROT_WRITE : 0) |
         (flags & PF_X ? PROT_EXEC : 0);
}

/* Read the object at path into memory, writable for now. */
static struct object *load_object(const char *path, const char *name) {
  if (nobjects == MAX_OBJECTS) fail("too many objects", name);
  struct object *o = &objects[nobjects++];
  strncpy(o->name, name, sizeof o->name - 1);
  int fd = open(path, O_RDONLY);
  if (fd < 0) fail("cannot open", path);
  if (pread(fd, &o->eh, sizeof o->eh, 0) != sizeof o->eh ||
      memcmp(o->eh.ident, "\177ELF\1\1", 6) != 0 || o->eh.machine != 243)
    fail("not an ELF32 RISC-V file", path);
  if (o->eh.phnum > 16 || o->eh.phentsize != sizeof(Phdr)) fail("bad program headers", path);
  size_t phsize = o->eh.phnum * sizeof(Phdr);
  if (pread(fd, o->ph, phsize, o->eh.phoff) != (ssize_t)phsize) fail("short read", path);

  uint32_t lo = UINT32_MAX, hi = 0;
  for (int i = 0; i < o->eh.phnum; i++) {
    const Phdr *p = &o->ph[i];
    if (p->type == PT_INTERP) fail("has PT_INTERP", path);
    if (p->type != PT_LOAD) continue;
    if (p->vaddr < lo) lo = p->vaddr & ~(PAGE - 1);
    if (p->vaddr + p->memsz > hi) hi = (p->vaddr + p->memsz + PAGE - 1) & ~(PAGE - 1);
  }
  int fixed = o->eh.type == 2; /* ET_EXEC */
  unsigned char *span = mmap(fixed ? (void *)(uintptr_t)lo : 0, hi - lo, PROT_READ | PROT_WRITE,
                             MAP_PRIVATE | MAP_ANONYMOUS | (fixed ? MAP_FIXED : 0), -1, 0);
  if (span == MAP_FAILED) fail("cannot reserve address space", path);
  o->base = (uintptr_t)span - lo;
  for (int i = 0; i < o->eh.phnum; i++) {
    const Phdr *p = &o->ph[i];
    if (p->type == PT_LOAD &&
        pread(fd, (void *)(o->base + p->vaddr), p->filesz, p->offset) != (ssize_t)p->filesz)
      fail("short segment read", path);
    if (p->type == PT_DYNAMIC) o->dyn = (uint32_t *)(o->base + p->vaddr);
  }
  close(fd);
  if (!o->dyn) return o;
  if (dyn_get(o, DT_TEXTREL)) fail("has text relocations", path);
  o->strtab = (const char *)(o->base + dyn_get(o, DT_STRTAB));
  o->symtab = (const Sym *)(o->base + dyn_get(o, DT_SYMTAB));
  uint32_t hash = dyn_get(o, DT_HASH);
  o->nsyms = hash ? ((const uint32_t *)(o->base + hash))[1] : 0; /* nchain */
  return o;
}

/* The address of a defined global or weak symbol, searching objects in
 * load order (program first), as the global scope of ld.so does. */
static uintptr_t lookup(const char *name, const char *who) {
  for (int i = 0; i < nobjects; i++) {
    const struct object *o = &objects[i];
    for (uint32_t s = 1; s < o->nsyms; s++) {
      const Sym *sym = &o->symtab[s];
      int bind = sym->info >> 4;
      if (sym->shndx != 0 && (bind == 1 || bind == 2) && strcmp(o->strtab + sym->name, name) == 0)
        return o->base + sym->value;
    }
  }
  fprintf(stderr, "xld: %s: undefined symbol %s\n", who, name);
  exit(127);
}

static void relocate_table(struct object *o, uint32_t addr, uint32_t size) {
  const Rela *r = (const Rela *)(o->base + addr);
  for (uint32_t i = 0; i < size / sizeof(Rela); i++) {
    uint32_t *where = (uint32_t *)(o->base + r[i].offset);
    uint32_t type = r[i].info & 0xff, symi = r[i].info >> 8;
    const char *sname = o->strtab + o->symtab[symi].name;
    switch (type) {
      case R_RISCV_RELATIVE: *where = o->base + r[i].addend; break;
      case R_RISCV_32: *where = lookup(sname, o->name) + r[i].addend; break;
      case R_RISCV_JUMP_SLOT: *where = lookup(sname, o->name); break;
      default:
        fprintf(stderr, "xld: %s: unsupported relocation type %u\n", o->name, type);
        exit(127);
    }
  }
}

static void run_array(const struct object *o, uint32_t tag, uint32_t sztag, int reverse) {
  uint32_t addr = dyn_get(o, tag), n = dyn_get(o, sztag) / 4;
  if (!addr) return;
  void (**fns)(void) = (void (**)(void))(o->base + addr);
  for (uint32_t i = 0; i < n; i++) fns[reverse ? n - 1 - i : i]();
}

/* Passed to the program in a0; its crt0 registers it with atexit. */
static void run_fini_arrays(void) {
  for (int i = 0; i < nobjects; i++) run_array(&objects[i], DT_FINI_ARRAY, DT_FINI_ARRAYSZ, 1);
}

/* Lay out argc, argv, envp and auxv at the top of a fresh stack. */
static uintptr_t build_stack(int argc, char **argv, const struct object *prog) {
  unsigned char *stack = mmap(0, STACK_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                              -1, 0);
  if (stack == MAP_FAILED) fail("no memory for the stack", "stack");
  char *strings = (char *)stack + STACK_SIZE;
  char *args[64];
  if (argc > 64) fail("too many arguments", "stack");
  for (int i = argc - 1; i >= 0; i--) {
    size_t n = strlen(argv[i]) + 1;
    strings -= n;
    memcpy(strings, argv[i], n);
    args[i] = strings;
  }
  uintptr_t phdr = 0;
  for (int i = 0; i < prog->eh.phnum; i++) {
    if (prog->ph[i].type == PT_PHDR) phdr = prog->base + prog->ph[i].vaddr;
  }
  uint32_t aux[] = {AT_PHDR, phdr,  AT_PHENT, sizeof(Phdr), AT_PHNUM, prog->eh.phnum,
                    AT_PAGESZ, PAGE, AT_BASE, 0, AT_ENTRY, prog->base + prog->eh.entry,
                    AT_NULL, 0};
  size_t words = 1 + (size_t)argc + 1 + 1 + sizeof aux / 4;
  uint32_t *sp = (uint32_t *)(((uintptr_t)strings - words * 4) & ~(uintptr_t)15);
  uint32_t *w = sp;
  *w++ = (uint32_t)argc;
  for (int i = 0; i < argc; i++) *w++ = (uint32_t)(uintptr_t)args[i];
  *w++ = 0; /* end of argv */
  *w++ = 0; /* empty envp */
  memcpy(w, aux, sizeof aux);
  return (uintptr_t)sp;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: xld ROOT PROGRAM [ARGS...]\n");
    return 127;
  }
  root = argv[1];
  char path[256];
  snprintf(path, sizeof path, "%s%s", root, argv[2]);
  load_object(path, argv[2]);

  /* Breadth first: objects[] doubles as the queue and the search order. */
  for (int i = 0; i < nobjects; i++) {
    for (const uint32_t *d = objects[i].dyn; d && d[0] != DT_NULL; d += 2) {
      if (d[0] != DT_NEEDED) continue;
      const char *lib = objects[i].strtab + d[1];
      int seen = 0;
      for (int k = 0; k < nobjects; k++) seen |= strcmp(objects[k].name, lib) == 0;
      if (seen) continue;
      snprintf(path, sizeof path, "%s/lib/%s", root, lib);
      load_object(path, lib);
    }
  }

  for (int i = 0; i < nobjects; i++) {
    struct object *o = &objects[i];
    if (!o->dyn) continue;
    relocate_table(o, dyn_get(o, DT_RELA), dyn_get(o, DT_RELASZ));
    relocate_table(o, dyn_get(o, DT_JMPREL), dyn_get(o, DT_PLTRELSZ));
  }
  for (int i = 0; i < nobjects; i++) {
    const struct object *o = &objects[i];
    for (int k = 0; k < o->eh.phnum; k++) {
      const Phdr *p = &o->ph[k];
      if (p->type != PT_LOAD) continue;
      uintptr_t start = (o->base + p->vaddr) & ~(uintptr_t)(PAGE - 1);
      uintptr_t end = (o->base + p->vaddr + p->memsz + PAGE - 1) & ~(uintptr_t)(PAGE - 1);
      if (mprotect((void *)start, end - start, prot_of(p->flags)) < 0)
        fail("mprotect failed", o->name);
    }
  }
  /* Dependencies before dependents: the reverse of breadth-first order. */
  for (int i = nobjects - 1; i >= 0; i--) run_array(&objects[i], DT_INIT_ARRAY, DT_INIT_ARRAYSZ, 0);

  uintptr_t sp = build_stack(argc - 2, argv + 2, &objects[0]);
  uintptr_t entry = objects[0].base + objects[0].eh.entry;
  fflush(stdout);
  register uintptr_t a0 __asm__("a0") = (uintptr_t)run_fini_arrays;
  __asm__ volatile("mv sp, %0\n jr %1" : : "r"(sp), "r"(entry), "r"(a0) : "memory");
  __builtin_unreachable();
}
