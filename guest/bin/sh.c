/* sh: a small POSIX-style shell.
 *
 *   sh -c 'COMMANDS' [ARG0 ARGS...]   run COMMANDS ($0, $1.. from the args)
 *   sh SCRIPT [ARGS...]               run the lines of SCRIPT
 *   sh                                read commands from stdin (all of it, then run)
 *
 * What it understands:
 *   lists       a ; b    a && b    a || b    a & (not waited for)
 *   pipelines   a | b | c          ! a (negates the status)
 *   redirects   < f   > f   >> f   n> f   n>&m   2>&1
 *   words       'single'  "double with $VAR"  back\slash
 *   parameters  $VAR ${VAR} $? $$ $0..$9 $#
 *   assignments VAR=value (alone: a shell variable; before a command: its
 *               environment)
 *   builtins    cd exit export unset echo true false wait
 * A command is looked up in $PATH (default /bin) unless it contains '/'.
 * The status of a command killed by a signal is 128 + the signal. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_WORDS 64
#define MAX_CMDS 16
#define MAX_VARS 64
#define MAX_REDIRS 8
#define LINE_MAX 4096

/* ---- variables ---- */

static char *vars[MAX_VARS]; /* "NAME=value", malloc'd */
static int exported[MAX_VARS];
static int last_status;
static char **pos_args; /* $0, $1, ... */
static int pos_count;

static int var_index(const char *name, size_t len) {
  for (int i = 0; i < MAX_VARS; i++) {
    if (vars[i] && !strncmp(vars[i], name, len) && vars[i][len] == '=') return i;
  }
  return -1;
}

static const char *var_get(const char *name, size_t len) {
  int i = var_index(name, len);
  return i < 0 ? 0 : vars[i] + len + 1;
}

static void var_set(const char *assign, int export) {
  const char *eq = strchr(assign, '=');
  size_t len = (size_t)(eq - assign);
  int i = var_index(assign, len);
  if (i < 0) {
    for (i = 0; i < MAX_VARS && vars[i]; i++) {
    }
    if (i == MAX_VARS) return;
  } else {
    free(vars[i]);
  }
  size_t n = strlen(assign) + 1;
  vars[i] = malloc(n);
  memcpy(vars[i], assign, n);
  exported[i] |= export;
}

static void var_unset(const char *name) {
  int i = var_index(name, strlen(name));
  if (i >= 0) {
    free(vars[i]);
    vars[i] = 0;
    exported[i] = 0;
  }
}

/* ---- words ---- */

struct buf {
  char s[LINE_MAX];
  size_t n;
};

static void put(struct buf *b, const char *s, size_t n) {
  if (b->n + n >= sizeof b->s) n = sizeof b->s - 1 - b->n;
  memcpy(b->s + b->n, s, n);
  b->n += n;
}

/* Expand $NAME, ${NAME}, $?, $$, $#, $0..$9 at *p (just past the '$'). */
static void expand(struct buf *b, const char **p) {
  const char *s = *p;
  char num[16];
  if (*s == '?' || *s == '$' || *s == '#') {
    int v = *s == '?' ? last_status : *s == '$' ? getpid() : pos_count > 0 ? pos_count - 1 : 0;
    snprintf(num, sizeof num, "%d", v);
    put(b, num, strlen(num));
    *p = s + 1;
    return;
  }
  if (*s >= '0' && *s <= '9') {
    int i = *s - '0';
    if (i < pos_count) put(b, pos_args[i], strlen(pos_args[i]));
    *p = s + 1;
    return;
  }
  int brace = *s == '{';
  if (brace) s++;
  const char *start = s;
  while ((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
         *s == '_') {
    s++;
  }
  if (s == start) {
    put(b, "$", 1); /* a lone $ is itself */
    *p = start - brace;
    return;
  }
  const char *v = var_get(start, (size_t)(s - start));
  if (v) put(b, v, strlen(v));
  if (brace && *s == '}') s++;
  *p = s;
}

/* ---- the lexer ---- */

enum tok { T_END, T_WORD, T_NEWLINE, T_SEMI, T_AMP, T_AND, T_OR, T_PIPE, T_BANG, T_REDIR };

struct token {
  enum tok kind;
  char *word;     /* T_WORD: the expanded text; T_REDIR: the operator */
  int fd;         /* T_REDIR: the fd it applies to (-1: the default) */
  int quoted_eq;  /* T_WORD: an '=' appeared inside quotes (not an assignment) */
};

static const char *src;
static struct token tk;
static char wordbuf[LINE_MAX * 2];
static size_t wordpos;

static char *keep(const char *s, size_t n) {
  if (wordpos + n + 1 > sizeof wordbuf) n = 0;
  char *w = wordbuf + wordpos;
  memcpy(w, s, n);
  w[n] = 0;
  wordpos += n + 1;
  return w;
}

static int is_meta(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == ';' || c == '&' || c == '|' || c == '<' ||
         c == '>' || c == 0;
}

static void next_token(void) {
  while (*src == ' ' || *src == '\t' || (*src == '\\' && src[1] == '\n')) src += *src == '\\' ? 2 : 1;
  if (*src == '#') {
    while (*src && *src != '\n') src++;
  }
  tk.fd = -1;
  tk.quoted_eq = 0;
  if (!*src) {
    tk.kind = T_END;
    return;
  }
  if (*src == '\n') { src++; tk.kind = T_NEWLINE; return; }
  if (*src == ';') { src++; tk.kind = T_SEMI; return; }
  if (src[0] == '&' && src[1] == '&') { src += 2; tk.kind = T_AND; return; }
  if (*src == '&') { src++; tk.kind = T_AMP; return; }
  if (src[0] == '|' && src[1] == '|') { src += 2; tk.kind = T_OR; return; }
  if (*src == '|') { src++; tk.kind = T_PIPE; return; }
  if (*src == '!' && is_meta(src[1])) { src++; tk.kind = T_BANG; return; }
  /* [n]<, [n]>, [n]>>, [n]>&m */
  const char *r = src;
  int fd = -1;
  if (*r >= '0' && *r <= '9' && (r[1] == '<' || r[1] == '>')) fd = *r++ - '0';
  if (*r == '<' || *r == '>') {
    const char *op = r[0] == '>' && r[1] == '>' ? ">>" : r[0] == '>' && r[1] == '&' ? ">&"
                     : r[0] == '<' ? "<" : ">";
    src = r + strlen(op);
    tk.kind = T_REDIR;
    tk.word = (char *)op;
    tk.fd = fd;
    return;
  }
  struct buf b;
  b.n = 0;
  while (!is_meta(*src)) {
    if (*src == '\'') {
      const char *e = strchr(src + 1, '\'');
      if (!e) e = src + strlen(src);
      for (const char *q = src + 1; q < e; q++) tk.quoted_eq |= *q == '=';
      put(&b, src + 1, (size_t)(e - src - 1));
      src = *e ? e + 1 : e;
    } else if (*src == '"') {
      src++;
      while (*src && *src != '"') {
        if (*src == '\\' && (src[1] == '"' || src[1] == '\\' || src[1] == '$')) {
          put(&b, src + 1, 1);
          src += 2;
        } else if (*src == '$') {
          src++;
          expand(&b, &src);
        } else {
          tk.quoted_eq |= *src == '=';
          put(&b, src++, 1);
        }
      }
      if (*src) src++;
    } else if (*src == '\\' && src[1]) {
      put(&b, src + 1, 1);
      src += 2;
    } else if (*src == '$') {
      src++;
      expand(&b, &src);
    } else {
      put(&b, src++, 1);
    }
  }
  tk.kind = T_WORD;
  tk.word = keep(b.s, b.n);
}

/* ---- commands ---- */

struct redir {
  int fd;
  const char *op;
  const char *target;
};

struct command {
  char *argv[MAX_WORDS + 1];
  int argc;
  char *assigns[MAX_WORDS];
  int nassign;
  struct redir redirs[MAX_REDIRS];
  int nredir;
};

static int is_assignment(const struct token *t) {
  const char *eq = strchr(t->word, '=');
  if (!eq || eq == t->word || t->quoted_eq) return 0;
  for (const char *p = t->word; p < eq; p++) {
    if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || *p == '_' ||
          (p > t->word && *p >= '0' && *p <= '9'))) {
      return 0;
    }
  }
  return 1;
}

/* Parse one simple command at the current token; 0 when there is none. */
static int parse_command(struct command *c) {
  memset(c, 0, sizeof *c);
  for (;;) {
    if (tk.kind == T_WORD) {
      if (c->argc == 0 && is_assignment(&tk)) {
        if (c->nassign < MAX_WORDS) c->assigns[c->nassign++] = tk.word;
      } else if (c->argc < MAX_WORDS) {
        c->argv[c->argc++] = tk.word;
      }
      next_token();
    } else if (tk.kind == T_REDIR) {
      struct redir r = {tk.fd, tk.word, 0};
      next_token();
      if (tk.kind != T_WORD) {
        fprintf(stderr, "sh: syntax error: missing redirection target\n");
        return -1;
      }
      r.target = tk.word;
      if (c->nredir < MAX_REDIRS) c->redirs[c->nredir++] = r;
      next_token();
    } else {
      break;
    }
  }
  c->argv[c->argc] = 0;
  return c->argc > 0 || c->nassign > 0 || c->nredir > 0;
}

/* Apply the redirections of `c` in this process. */
static int apply_redirs(const struct command *c) {
  for (int i = 0; i < c->nredir; i++) {
    const struct redir *r = &c->redirs[i];
    int to = r->fd >= 0 ? r->fd : r->op[0] == '<' ? 0 : 1;
    int fd;
    if (!strcmp(r->op, ">&")) {
      fd = atoi(r->target);
      if (dup2(fd, to) < 0) {
        fprintf(stderr, "sh: %s: bad file descriptor\n", r->target);
        return -1;
      }
      continue;
    }
    int flags = !strcmp(r->op, "<") ? O_RDONLY
                : !strcmp(r->op, ">>") ? O_WRONLY | O_CREAT | O_APPEND
                                        : O_WRONLY | O_CREAT | O_TRUNC;
    fd = open(r->target, flags, 0644);
    if (fd < 0) {
      fprintf(stderr, "sh: %s: cannot open (errno %d)\n", r->target, errno);
      return -1;
    }
    if (fd != to) {
      dup2(fd, to);
      close(fd);
    }
  }
  return 0;
}

/* The environment a command gets: the exported variables and its prefix assignments. */
static char **build_env(const struct command *c) {
  static char *env[MAX_VARS + MAX_WORDS + 1];
  int n = 0;
  for (int i = 0; i < MAX_VARS; i++) {
    if (!vars[i] || !exported[i]) continue;
    int shadowed = 0;
    for (int a = 0; a < c->nassign && !shadowed; a++) {
      size_t len = (size_t)(strchr(c->assigns[a], '=') - c->assigns[a]);
      shadowed = !strncmp(vars[i], c->assigns[a], len + 1);
    }
    if (!shadowed) env[n++] = vars[i];
  }
  for (int a = 0; a < c->nassign; a++) env[n++] = c->assigns[a];
  env[n] = 0;
  return env;
}

static int builtin(const struct command *c, int *status) {
  const char *name = c->argv[0];
  if (!strcmp(name, "exit")) {
    fflush(stdout);
    exit(c->argc > 1 ? atoi(c->argv[1]) : last_status);
  }
  if (!strcmp(name, "cd")) {
    const char *dir = c->argc > 1 ? c->argv[1] : "/";
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    *status = fd < 0 ? 1 : 0;
    if (fd < 0) fprintf(stderr, "sh: cd: %s: no such directory\n", dir);
    else close(fd); /* xip has no chdir yet: cd checks only */
    return 1;
  }
  if (!strcmp(name, "export")) {
    for (int i = 1; i < c->argc; i++) {
      if (strchr(c->argv[i], '=')) var_set(c->argv[i], 1);
      else {
        int k = var_index(c->argv[i], strlen(c->argv[i]));
        if (k >= 0) exported[k] = 1;
      }
    }
    *status = 0;
    return 1;
  }
  if (!strcmp(name, "unset")) {
    for (int i = 1; i < c->argc; i++) var_unset(c->argv[i]);
    *status = 0;
    return 1;
  }
  if (!strcmp(name, "echo")) {
    for (int i = 1; i < c->argc; i++) printf(i > 1 ? " %s" : "%s", c->argv[i]);
    printf("\n");
    fflush(stdout);
    *status = 0;
    return 1;
  }
  if (!strcmp(name, "true") || !strcmp(name, "false")) {
    *status = name[0] == 'f';
    return 1;
  }
  if (!strcmp(name, "wait")) {
    while (wait(0) > 0) {
    }
    *status = 0;
    return 1;
  }
  return 0;
}

static int status_of(int st) {
  return WIFSIGNALED(st) ? 128 + WTERMSIG(st) : WEXITSTATUS(st);
}

/* In a forked child: run `c` (builtin or program) and never return. */
static void run_in_child(const struct command *c) {
  if (apply_redirs(c) < 0) _exit(1);
  int status;
  if (c->argc == 0) _exit(0);
  if (builtin(c, &status)) {
    fflush(stdout);
    _exit(status);
  }
  char **env = build_env(c);
  environ = env;
  execvp(c->argv[0], c->argv);
  fprintf(stderr, "sh: %s: %s\n", c->argv[0], errno == ENOENT ? "not found" : "cannot execute");
  _exit(errno == ENOENT ? 127 : 126);
}

/* Run a pipeline of `n` commands; wait for it unless `background`. */
static int run_pipeline(struct command *cmds, int n, int background) {
  /* A lone builtin or assignment runs in the shell itself. */
  if (n == 1 && !background && cmds[0].nredir == 0) {
    int status;
    if (cmds[0].argc == 0) {
      for (int i = 0; i < cmds[0].nassign; i++) var_set(cmds[0].assigns[i], 0);
      return 0;
    }
    if (builtin(&cmds[0], &status)) return status;
  }
  pid_t pids[MAX_CMDS];
  int in = -1;
  fflush(stdout);
  for (int i = 0; i < n; i++) {
    int p[2] = {-1, -1};
    if (i + 1 < n && pipe(p) < 0) {
      fprintf(stderr, "sh: pipe: errno %d\n", errno);
      return 1;
    }
    pids[i] = fork();
    if (pids[i] < 0) {
      fprintf(stderr, "sh: fork: errno %d\n", errno);
      return 1;
    }
    if (pids[i] == 0) {
      if (in >= 0) {
        dup2(in, 0);
        close(in);
      }
      if (p[1] >= 0) {
        dup2(p[1], 1);
        close(p[1]);
        close(p[0]);
      }
      run_in_child(&cmds[i]);
    }
    if (in >= 0) close(in);
    if (p[1] >= 0) close(p[1]);
    in = p[0];
  }
  if (background) return 0;
  int status = 0;
  for (int i = 0; i < n; i++) {
    int st;
    while (waitpid(pids[i], &st, 0) < 0 && errno == EINTR) {
    }
    if (i == n - 1) status = status_of(st);
  }
  return status;
}

/* Run the commands in `text`. */
static void run(const char *text) {
  src = text;
  wordpos = 0;
  next_token();
  static struct command cmds[MAX_CMDS];
  int skip = 0; /* set after && / || decided the rest of an and-or list */
  for (;;) {
    while (tk.kind == T_NEWLINE || tk.kind == T_SEMI) {
      skip = 0;
      next_token();
    }
    if (tk.kind == T_END) return;
    int negate = 0;
    if (tk.kind == T_BANG) {
      negate = 1;
      next_token();
    }
    int n = 0;
    for (;;) {
      int r = parse_command(&cmds[n]);
      if (r < 0) return;
      if (r == 0) {
        fprintf(stderr, "sh: syntax error near a missing command\n");
        last_status = 2;
        return;
      }
      if (n + 1 < MAX_CMDS) n++;
      if (tk.kind != T_PIPE) break;
      next_token();
    }
    int background = tk.kind == T_AMP;
    if (!skip) {
      int st = run_pipeline(cmds, n, background);
      last_status = negate ? !st : st;
    }
    if (tk.kind == T_AND) skip = last_status != 0;
    else if (tk.kind == T_OR) skip = last_status == 0;
    else skip = 0;
    if (tk.kind != T_END) next_token();
  }
}

static char *read_all(int fd) {
  size_t cap = 4096, len = 0;
  char *s = malloc(cap);
  ssize_t n;
  while ((n = read(fd, s + len, cap - len - 1)) > 0) {
    len += (size_t)n;
    if (cap - len < 2) s = realloc(s, cap *= 2);
  }
  s[len] = 0;
  return s;
}

int main(int argc, char **argv) {
  for (char **e = environ; e && *e; e++) {
    if (strchr(*e, '=')) var_set(*e, 1);
  }
  if (argc > 2 && !strcmp(argv[1], "-c")) {
    pos_args = argv + 3;
    pos_count = argc - 3;
    if (pos_count == 0) {
      pos_args = argv;
      pos_count = 1;
    }
    run(argv[2]);
    fflush(stdout);
    return last_status;
  }
  if (argc > 1) {
    int fd = open(argv[1], O_RDONLY);
    if (fd < 0) {
      fprintf(stderr, "sh: %s: cannot open\n", argv[1]);
      return 127;
    }
    pos_args = argv + 1;
    pos_count = argc - 1;
    char *text = read_all(fd);
    close(fd);
    run(text);
    fflush(stdout);
    return last_status;
  }
  pos_args = argv;
  pos_count = 1;
  char *text = read_all(0);
  run(text);
  fflush(stdout);
  return last_status;
}
