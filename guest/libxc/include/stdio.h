/* stdio.h: buffered streams over file descriptors. stdout is fully
 * buffered (flushed by exit() and fflush), stderr is unbuffered. The
 * standard streams are reached through a function so that programs do not
 * reference data objects inside libc.so (no copy relocations). */
#ifndef XC_STDIO_H
#define XC_STDIO_H

#include <stdarg.h>
#include <stddef.h>

typedef struct xc_file FILE;

#define EOF (-1)
#define BUFSIZ 4096
#define FOPEN_MAX 16

FILE *__xc_stdfile(int fd);
#define stdin (__xc_stdfile(0))
#define stdout (__xc_stdfile(1))
#define stderr (__xc_stdfile(2))

FILE *fopen(const char *path, const char *mode);
FILE *fdopen(int fd, const char *mode);
int fclose(FILE *f);
int fflush(FILE *f);
int fileno(FILE *f);
int feof(FILE *f);
int ferror(FILE *f);

size_t fread(void *buf, size_t size, size_t n, FILE *f);
size_t fwrite(const void *buf, size_t size, size_t n, FILE *f);
int fgetc(FILE *f);
int getc(FILE *f);
int getchar(void);
char *fgets(char *s, int n, FILE *f);
int fputc(int c, FILE *f);
int putc(int c, FILE *f);
int putchar(int c);
int fputs(const char *s, FILE *f);
int puts(const char *s);
void perror(const char *msg);

int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int fprintf(FILE *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int dprintf(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int sprintf(char *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int snprintf(char *s, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int vprintf(const char *fmt, va_list ap);
int vfprintf(FILE *f, const char *fmt, va_list ap);
int vsnprintf(char *s, size_t n, const char *fmt, va_list ap);

#endif
