/* Freestanding string.h for the WebAssembly build: BearSSL needs only these. */
#ifndef MESHCHAT_STRING_H
#define MESHCHAT_STRING_H
#include <stddef.h>
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
#endif
